using System;
using System.Buffers;
using System.Collections.Generic;
using System.Linq;
using Watermark.Formats;

namespace Watermark;

/// <summary>
/// Verification of a keyring against a model file (TorchSharp .dat, safetensors or ONNX) without
/// libtorch: what <c>watermark verify</c> and <c>extract</c> do, for any .NET caller.
/// </summary>
public static class ModelVerification
{
    /// <summary>
    /// Verifies every slot of <paramref name="keyring"/> against the tensor of the same name in
    /// <paramref name="model"/>, reading only those tensors' values. A slot whose tensor is missing (the
    /// error suggests close names), of another shape, or not a float tensor throws a
    /// <see cref="WatermarkException"/> naming the slot and the file: that is unusable input, never an absent mark.
    /// </summary>
    public static VerificationResult Verify(this Keyring keyring, ModelFile model, double alpha = VerificationResult.DefaultAlpha)
    {
        ArgumentNullException.ThrowIfNull(keyring);
        ArgumentNullException.ThrowIfNull(model);
        return VerifySlots(keyring, model, null, alpha, Attacks.BatchNormAbsorption.DefaultEpsilon);
    }

    /// <summary>
    /// As <see cref="Verify(Keyring, ModelFile, double)"/>, but the slots named in <paramref name="foldNorms"/> are read
    /// from their host folded with the batch norm that follows it (slot name → the norm's prefix, e.g.
    /// <c>layer3.1.bn1</c>, whose <c>.weight</c> and <c>.running_var</c> are read): <see cref="BatchNormFolding"/>, a
    /// canonical form that output-filter scaling and sign flips absorbed in that batch norm cannot move.
    /// Choose the reading before looking at any result: trying both and keeping the better would double the false-positive rate.
    /// </summary>
    public static VerificationResult Verify(this Keyring keyring, ModelFile model, IReadOnlyDictionary<string, string> foldNorms, double alpha = VerificationResult.DefaultAlpha, double epsilon = Attacks.BatchNormAbsorption.DefaultEpsilon)
    {
        ArgumentNullException.ThrowIfNull(keyring);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(foldNorms);
        var unknown = foldNorms.Keys.FirstOrDefault(name => !keyring.Slots.Any(s => s.Parameter == name));
        if (unknown is not null)
        {
            throw new ArgumentException($"A batch norm to fold is named for slot '{unknown}', which the key file does not have; its slots are {string.Join(", ", keyring.Slots.Select(s => $"'{s.Parameter}'"))}.", nameof(foldNorms));
        }

        return VerifySlots(keyring, model, foldNorms, alpha, epsilon);
    }

    // Each slot's host is read into a pooled buffer: scanning thousands of files then reuses the same pages instead of
    // the GC committing (and the kernel zero-filling) a fresh large array for each. A folded slot is read from its copy.
    private static VerificationResult VerifySlots(Keyring keyring, ModelFile model, IReadOnlyDictionary<string, string>? foldNorms, double alpha, double epsilon)
    {
        // Checked before any value is read: a bad bound is the caller's mistake, whatever the file holds.
        if (!(alpha > 0 && alpha < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "The false-positive bound alpha must lie in (0, 1), e.g. 1e-6.");
        }

        var slots = new List<SlotVerification>(keyring.Slots.Length);
        foreach (var slot in keyring.Slots)
        {
            var entry = model.FindHost(slot);
            if (entry.ElementCount > Array.MaxLength)
            {
                throw new ModelFormatException(model.Source, $"tensor '{entry.Name}' has {entry.ElementCount} elements, more than one array holds.");
            }

            var buffer = ArrayPool<float>.Shared.Rent((int)entry.ElementCount);
            try
            {
                var values = buffer.AsSpan(0, (int)entry.ElementCount);
                model.ReadFloat32(entry, values);
                slots.Add(foldNorms is not null && foldNorms.TryGetValue(slot.Parameter, out var norm)
                    ? Extractor.Extract(slot, Folded(model, slot, entry, values, norm, epsilon), entry.Shape)
                    : Extractor.Extract(slot, values, entry.Shape));
            }
            finally
            {
                ArrayPool<float>.Shared.Return(buffer);
            }
        }

        return new VerificationResult(slots, alpha);
    }

    // The host's values folded with the batch norm after it, every problem with that norm named as unusable input.
    private static float[] Folded(ModelFile model, WatermarkKey slot, TensorEntry entry, ReadOnlySpan<float> values, string norm, double epsilon)
    {
        var hint = $"It is named as the batch norm after slot '{slot.Parameter}'.";
        var gamma = model.ReadFloat32(RealTensor(model, norm + ".weight", hint, "a batch norm's scale and running variance"));
        var variance = model.ReadFloat32(RealTensor(model, norm + ".running_var", hint, "a batch norm's scale and running variance"));
        if (gamma.Length != entry.Shape[0] || variance.Length != entry.Shape[0])
        {
            throw new WatermarkException($"Slot '{slot.Parameter}' in '{model.Source}' cannot be folded with '{norm}': it has {gamma.Length} channels but the host has {entry.Shape[0]} filters, so it is not the batch norm right after the host; name that one.");
        }

        try
        {
            return BatchNormFolding.Fold(values, entry.Shape, gamma, variance, epsilon);
        }
        catch (ArgumentException e)
        {
            throw new WatermarkException($"Slot '{slot.Parameter}' in '{model.Source}' cannot be folded with '{norm}': {e.Message.Replace($" (Parameter '{e.ParamName}')", string.Empty, StringComparison.Ordinal)}");
        }
    }

    /// <summary>
    /// The tensor <paramref name="name"/> that a verification reads beside a host (a batch norm's statistics, a producer
    /// conv), checked to be a float tensor; <paramref name="hint"/> says in errors why it was looked for, <paramref name="role"/> what it must be.
    /// </summary>
    internal static TensorEntry RealTensor(ModelFile model, string name, string hint, string role)
    {
        var entry = model.Find(name, hint);
        return entry.DType.IsReal()
            ? entry
            : throw new WatermarkException($"'{entry.Name}' in '{model.Source}' is {entry.DTypeName}; {role} must be float tensors.");
    }

    /// <summary>
    /// The host tensor of <paramref name="slot"/> in <paramref name="model"/>, checked to be a float tensor
    /// of the key's shape before any of its values are read.
    /// </summary>
    public static TensorEntry FindHost(this ModelFile model, WatermarkKey slot)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(slot);
        var entry = model.Find(slot.Parameter, "The key file names it: check that the key file belongs to this model.");
        if (!entry.Shape.SequenceEqual(slot.Shape))
        {
            throw new WatermarkException($"Slot '{slot.Parameter}': the key was made for a weight of shape {Capacity.ShapeText(slot.Shape)} but '{model.Source}' holds {Capacity.ShapeText(entry.Shape)}; check that the key file belongs to this model.");
        }

        if (!entry.DType.IsReal())
        {
            throw new WatermarkException($"Slot '{slot.Parameter}': '{model.Source}' stores it as {entry.DTypeName}, but a watermark host weight is float32, float16, bfloat16 or float64; check that the key file belongs to this model.");
        }

        return entry;
    }
}
