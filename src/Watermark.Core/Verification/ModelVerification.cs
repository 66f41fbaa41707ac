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

        // Checked before any value is read: a bad bound is the caller's mistake, whatever the file holds.
        if (!(alpha > 0 && alpha < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "The false-positive bound alpha must lie in (0, 1), e.g. 1e-6.");
        }

        var slots = new List<SlotVerification>(keyring.Slots.Length);
        foreach (var slot in keyring.Slots)
        {
            var entry = model.FindHost(slot);
            // A pooled buffer: scanning thousands of files then reuses the same pages instead of the GC
            // committing (and the kernel zero-filling) a fresh large array for each.
            if (entry.ElementCount > Array.MaxLength)
            {
                throw new ModelFormatException(model.Source, $"tensor '{entry.Name}' has {entry.ElementCount} elements, more than one array holds.");
            }

            var buffer = ArrayPool<float>.Shared.Rent((int)entry.ElementCount);
            try
            {
                var values = buffer.AsSpan(0, (int)entry.ElementCount);
                model.ReadFloat32(entry, values);
                slots.Add(Extractor.Extract(slot, values, entry.Shape));
            }
            finally
            {
                ArrayPool<float>.Shared.Return(buffer);
            }
        }

        return new VerificationResult(slots, alpha);
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
        if (!(alpha > 0 && alpha < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "The false-positive bound alpha must lie in (0, 1), e.g. 1e-6.");
        }

        var unknown = foldNorms.Keys.FirstOrDefault(name => !keyring.Slots.Any(s => s.Parameter == name));
        if (unknown is not null)
        {
            throw new ArgumentException($"A batch norm to fold is named for slot '{unknown}', which the key file does not have; its slots are {string.Join(", ", keyring.Slots.Select(s => $"'{s.Parameter}'"))}.", nameof(foldNorms));
        }

        var slots = new List<SlotVerification>(keyring.Slots.Length);
        foreach (var slot in keyring.Slots)
        {
            var entry = model.FindHost(slot);
            var values = model.ReadFloat32(entry);
            if (foldNorms.TryGetValue(slot.Parameter, out var norm))
            {
                var hint = $"It is named as the batch norm after slot '{slot.Parameter}'.";
                float[] Read(string name)
                {
                    var tensor = model.Find(name, hint);
                    return tensor.DType.IsReal()
                        ? model.ReadFloat32(tensor)
                        : throw new WatermarkException($"'{tensor.Name}' in '{model.Source}' is {tensor.DTypeName}; a batch norm's scale and running variance are float tensors.");
                }

                var gamma = Read(norm + ".weight");
                var variance = Read(norm + ".running_var");
                if (gamma.Length != entry.Shape[0] || variance.Length != entry.Shape[0])
                {
                    throw new WatermarkException($"Slot '{slot.Parameter}' in '{model.Source}' cannot be folded with '{norm}': it has {gamma.Length} channels but the host has {entry.Shape[0]} filters, so it is not the batch norm right after the host; name that one.");
                }

                try
                {
                    values = BatchNormFolding.Fold(values, entry.Shape, gamma, variance, epsilon);
                }
                catch (ArgumentException e)
                {
                    throw new WatermarkException($"Slot '{slot.Parameter}' in '{model.Source}' cannot be folded with '{norm}': {e.Message.Replace($" (Parameter '{e.ParamName}')", string.Empty, StringComparison.Ordinal)}");
                }
            }

            slots.Add(Extractor.Extract(slot, values, entry.Shape));
        }

        return new VerificationResult(slots, alpha);
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
