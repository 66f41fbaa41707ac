using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace Watermark;

/// <summary>Extraction and verification from live TorchSharp tensors and modules.</summary>
public static class TensorExtraction
{
    /// <summary>Reads one slot's mark from its host weight (any device or dtype).</summary>
    public static SlotVerification Extract(this WatermarkKey key, Tensor weight)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(weight);
        Extractor.CheckShape(key, weight.shape);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var values = weight.detach().to(ScalarType.Float32, CPU).contiguous().data<float>().ToArray();
        return Extractor.Extract(key, values, weight.shape);
    }

    /// <summary>
    /// Verifies every slot of <paramref name="keyring"/> against the parameters of <paramref name="model"/>
    /// (found by state_dict name).
    /// </summary>
    public static VerificationResult Verify(this Keyring keyring, nn.Module model, double alpha = VerificationResult.DefaultAlpha)
    {
        ArgumentNullException.ThrowIfNull(keyring);
        ArgumentNullException.ThrowIfNull(model);
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter, StringComparer.Ordinal);
        var results = new List<SlotVerification>();
        foreach (var slot in keyring.Slots)
        {
            if (!parameters.TryGetValue(slot.Parameter, out var weight))
            {
                var names = string.Join(", ", parameters.Keys.Where(n => n.EndsWith(".weight", StringComparison.Ordinal)).Take(8));
                throw new WatermarkException($"Slot '{slot.Parameter}' of the key file is not a parameter of this model; its weights include {names}. Check that the key file belongs to this model.");
            }

            results.Add(slot.Extract(weight));
        }

        return new VerificationResult(results, alpha);
    }
}
