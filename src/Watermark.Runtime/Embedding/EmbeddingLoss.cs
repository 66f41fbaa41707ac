using System;
using static TorchSharp.torch;

namespace Watermark;

/// <summary>
/// The embedding regulariser E_R(w) = −Σ_j [b_j log σ(Xw)_j + (1−b_j) log(1−σ(Xw)_j)]
/// (Uchida et al. Eq. 4, summed over bits as in the reference code), computed from logits for
/// numerical stability. λ is applied by the caller: <c>loss = task + key.Strength * E_R</c>.
/// </summary>
public static class EmbeddingLoss
{
    /// <summary>E_R for the host <paramref name="weight"/> (differentiable, a scalar tensor).</summary>
    public static Tensor Compute(Tensor weight, WatermarkKey key)
    {
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(key);
        Extractor.CheckShape(key, weight.shape);
        var (x, b) = KeyTensors.For(key, weight.device, weight.dtype);
        using var scope = NewDisposeScope();
        // Xw as multiply-and-sum, not mv: BLAS gemv gave run-to-run last-bit differences on CPU,
        // which broke bit-identical resumed training; ATen's reduction is deterministic.
        var logits = (x * weight.FilterMean()).sum(1);
        return nn.functional.binary_cross_entropy_with_logits(logits, b, reduction: nn.Reduction.Sum).MoveToOuterDisposeScope();
    }

    /// <summary>λ·E_R with the slot's own strength λ.</summary>
    public static Tensor Weighted(Tensor weight, WatermarkKey key)
    {
        using var scope = NewDisposeScope();
        return Compute(weight, key).mul(key.Strength).MoveToOuterDisposeScope();
    }
}
