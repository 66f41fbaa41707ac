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
