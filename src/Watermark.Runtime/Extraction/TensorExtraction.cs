using System;
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
    public static VerificationResult Verify(this Keyring keyring, nn.Module model, double alpha = VerificationResult.DefaultAlpha) =>
        new WatermarkRegularizer(keyring, model).Verify(alpha);
}
