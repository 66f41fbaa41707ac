using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using static TorchSharp.torch;

namespace Watermark;

/// <summary>
/// The runtime behind <see cref="IWatermarkable"/>: walks a model's module tree, finds the
/// <see cref="WatermarkAttribute"/> layers of every module that declares some, and names each by
/// its state_dict path. Works on any module, marked or not, e.g. a whole network around marked blocks.
/// </summary>
public static class WatermarkModules
{
    /// <summary>
    /// Every slot in <paramref name="model"/>'s tree, in state_dict order. Cached per model: a later call
    /// returns the same list unless a marked layer, its weight (<c>.to()</c> makes new ones) or the tree changed.
    /// </summary>
    public static IReadOnlyList<WatermarkSlot> GetWatermarkSlots(this nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (SlotCaches.TryGetValue(model, out var cached) && cached.IsCurrent(model))
        {
            return cached.Slots;
        }

        // Each slot is named by where its weight sits in the state_dict, found by reference, so the
        // names follow however the modules were registered.
        var parameters = model.named_parameters().ToList();
        var names = new Dictionary<Tensor, (string Name, int Index)>(ReferenceEqualityComparer.Instance);
        for (var i = 0; i < parameters.Count; i++)
        {
            names.TryAdd(parameters[i].parameter, (parameters[i].name, i));
        }

        var found = new List<(int Index, SlotSource Source)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (path, module) in model.named_modules().Prepend((string.Empty, model)))
        {
            if (module is not IWatermarkable marked)
            {
                continue;
            }

            foreach (var declaration in marked.WatermarkDeclarations)
            {
                var member = $"{declaration.DeclaringType.Name}.{declaration.Member}";
                var where = path.Length == 0 ? member : $"{member} (at '{path}')";
                var layer = declaration.LayerOf(module)
                    ?? throw new WatermarkException($"[Watermark] layer {where} is null; create it in the constructor before RegisterComponents().");
                var weight = WatermarkSlot.WeightOf(layer)
                    ?? throw new WatermarkException($"[Watermark] layer {where} is a {layer.GetType().Name}; only Conv1d, Conv2d, Conv3d and Linear layers can carry a mark.");
                if (!names.TryGetValue(weight, out var parameter))
                {
                    throw new WatermarkException($"[Watermark] layer {where} is not a registered submodule; call RegisterComponents() (or register_module) at the end of {module.GetType().Name}'s constructor.");
                }

                if (seen.Add(parameter.Name))
                {
                    found.Add((parameter.Index, new SlotSource(module, declaration, new WatermarkSlot(declaration, layer, parameter.Name, weight))));
                }
            }
        }

        var sources = found.OrderBy(s => s.Index).Select(s => s.Source).ToArray();
        var cache = new SlotCache(Tree(model), sources, Array.AsReadOnly(Array.ConvertAll(sources, s => s.Slot)));
        SlotCaches.AddOrUpdate(model, cache);
        return cache.Slots;
    }

    // The slots of each model last asked for. Weak: the cache never keeps a model alive.
    private static readonly ConditionalWeakTable<nn.Module, SlotCache> SlotCaches = [];

    private sealed record SlotSource(nn.Module Owner, WatermarkDeclaration Declaration, WatermarkSlot Slot);

    private sealed record SlotCache(nn.Module[] Modules, SlotSource[] Sources, IReadOnlyList<WatermarkSlot> Slots)
    {
        // By reference, without walking named_parameters: the same modules in the same tree order, each
        // marked member still holds the same layer, and each layer still holds the same weight.
        public bool IsCurrent(nn.Module model)
        {
            var index = 0;
            return SameTree(model, ref index) && index == Modules.Length
                && Array.TrueForAll(Sources, s => ReferenceEquals(s.Declaration.LayerOf(s.Owner), s.Slot.Layer) && ReferenceEquals(WatermarkSlot.WeightOf(s.Slot.Layer), s.Slot.Weight));
        }

        private bool SameTree(nn.Module module, ref int index)
        {
            if (index >= Modules.Length || !ReferenceEquals(Modules[index++], module))
            {
                return false;
            }

            foreach (var (_, child) in module.named_children())
            {
                if (!SameTree(child, ref index))
                {
                    return false;
                }
            }

            return true;
        }
    }

    private static nn.Module[] Tree(nn.Module model)
    {
        var modules = new List<nn.Module>();
        void Visit(nn.Module module)
        {
            modules.Add(module);
            foreach (var (_, child) in module.named_children())
            {
                Visit(child);
            }
        }

        Visit(model);
        return [.. modules];
    }

    /// <summary>
    /// Σ λ·E_R over the slots of <paramref name="model"/> that <paramref name="keyring"/> activates
    /// (λ from each key): <c>loss = task + model.WatermarkLoss(keyring)</c>. The same as
    /// <see cref="WatermarkRegularizer.Loss"/> of a regulariser bound to the model, which this binds once
    /// and reuses while the keyring and the layers' weights stay the same.
    /// </summary>
    public static Tensor WatermarkLoss(this nn.Module model, Keyring keyring) => Activate(model, keyring).Loss();

    /// <summary>
    /// Reads the mark of every slot <paramref name="keyring"/> activates: per-slot bits, BER, p-value and
    /// the verdict at <paramref name="alpha"/> — the same result as <c>keyring.Verify(model)</c>, after
    /// checking that each of the keyring's slots is a [Watermark] slot of the model.
    /// </summary>
    public static VerificationResult ExtractWatermark(this nn.Module model, Keyring keyring, double alpha = VerificationResult.DefaultAlpha) =>
        Activate(model, keyring).Verify(alpha);

    // The last binding of each model to a keyring, so a training loop that calls WatermarkLoss every step
    // walks the module tree once. Weak: it never keeps a model alive.
    private static readonly ConditionalWeakTable<nn.Module, Binding> Bindings = [];

    private sealed record Binding(Keyring Keyring, WatermarkSlot[] Slots, WatermarkRegularizer Regularizer);

    private static WatermarkRegularizer Activate(nn.Module model, Keyring keyring)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(keyring);
        if (Bindings.TryGetValue(model, out var cached) && ReferenceEquals(cached.Keyring, keyring)
            && Array.TrueForAll(cached.Slots, s => ReferenceEquals(WatermarkSlot.WeightOf(s.Layer), s.Weight)))
        {
            return cached.Regularizer;
        }

        var binding = Bind(model, keyring);
        Bindings.AddOrUpdate(model, binding);
        return binding.Regularizer;
    }

    // Checks that every slot of the keyring is a [Watermark] slot of the model, then binds the keyring the
    // one way the library binds keyrings to models: a WatermarkRegularizer.
    private static Binding Bind(nn.Module model, Keyring keyring)
    {
        var slots = model.GetWatermarkSlots();
        var modelName = model.GetType().Name;
        if (slots.Count == 0)
        {
            throw new WatermarkException($"{modelName} has no [Watermark] layer; mark a Conv or Linear field of a partial module with [Watermark(Bits = …)].");
        }

        if (keyring.Slots.IsEmpty)
        {
            throw new WatermarkException($"The keyring activates no slot of {modelName}; create keys with slot.CreateKey() for some of: {Names(slots)}.");
        }

        var active = new List<WatermarkSlot>();
        foreach (var key in keyring.Slots)
        {
            var slot = slots.FirstOrDefault(s => s.Parameter == key.Parameter)
                ?? throw new WatermarkException($"Slot '{key.Parameter}' of the keyring is not a [Watermark] slot of {modelName}, whose slots are {Names(slots)}; check that the key file belongs to this model.");
            active.Add(slot);
        }

        return new Binding(keyring, [.. active], new WatermarkRegularizer(keyring, model));
    }

    private static string Names(IReadOnlyList<WatermarkSlot> slots) =>
        string.Join(", ", slots.Take(8).Select(s => $"'{s.Parameter}'")) + (slots.Count > 8 ? $" and {slots.Count - 8} more" : string.Empty);
}
