using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Watermark;

/// <summary>
/// The keyring's slots bound to a model's parameters (by state_dict name) once, so each training
/// step adds Σ_s λ_s·E_R(w_s) without a lookup. Shapes are checked when binding. This is the one
/// binding of a keyring to a model: <c>keyring.Verify(model)</c>, the generated
/// <c>WatermarkLoss</c>/<c>ExtractWatermark</c> and the <see cref="Training.Trainer"/> all go through it.
/// </summary>
public sealed class WatermarkRegularizer
{
    private readonly nn.Module model;
    private (WatermarkKey Key, Parameter Weight)[] slots;

    /// <summary>Binds every slot of <paramref name="keyring"/> to the parameter of <paramref name="model"/> it names.</summary>
    /// <exception cref="WatermarkException">The keyring has no slot, names a parameter the model lacks, or its shape differs.</exception>
    public WatermarkRegularizer(Keyring keyring, nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(keyring);
        ArgumentNullException.ThrowIfNull(model);
        if (keyring.Slots.IsEmpty)
        {
            throw new WatermarkException($"The keyring has no slot, so there is nothing to embed or verify in {model.GetType().Name}; add a key (WatermarkKey.Create or slot.CreateKey()) for one of its weights.");
        }

        Keyring = keyring;
        this.model = model;
        slots = Bind();
    }

    /// <summary>
    /// Binds the slots again. Moving a module to another device (<c>model.to(cuda)</c>) replaces its
    /// Parameter objects, so a regulariser bound before the move would train tensors the optimiser
    /// never sees; <see cref="Training.Trainer"/> calls this after it moves the model.
    /// </summary>
    public void Rebind() => slots = Bind();

    private (WatermarkKey, Parameter)[] Bind()
    {
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        return [.. Keyring.Slots.Select(key =>
        {
            if (!parameters.TryGetValue(key.Parameter, out var weight))
            {
                throw new WatermarkException($"Slot '{key.Parameter}' of the key file is not a parameter of this model; its weights include {string.Join(", ", parameters.Keys.Where(n => n.EndsWith(".weight", StringComparison.Ordinal)).Take(8))}.");
            }

            Extractor.CheckShape(key, weight.shape);
            return (key, weight);
        })];
    }

    /// <summary>The keyring.</summary>
    public Keyring Keyring { get; }

    /// <summary>The bound host weights, in keyring order.</summary>
    public IReadOnlyList<Parameter> Weights => [.. slots.Select(s => s.Weight)];

    /// <summary>Σ_s λ_s·E_R(w_s): add it to the task loss.</summary>
    public Tensor Loss()
    {
        using var scope = NewDisposeScope();
        Tensor? total = null;
        foreach (var (key, weight) in slots)
        {
            var term = EmbeddingLoss.Weighted(weight, key);
            total = total is null ? term : total + term;
        }

        return total!.MoveToOuterDisposeScope();
    }

    /// <summary>Σ_s E_R(w_s) without λ, as the paper reports it.</summary>
    public double EmbeddingLossValue()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return slots.Sum(s => EmbeddingLoss.Compute(s.Weight, s.Key).ToDouble());
    }

    /// <summary>Reads every slot and combines the verdict.</summary>
    public VerificationResult Verify(double alpha = VerificationResult.DefaultAlpha) =>
        new([.. slots.Select(s => s.Key.Extract(s.Weight))], alpha);
}
