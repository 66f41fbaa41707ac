using System;
using System.Collections.Generic;
using Watermark.Attacks;

namespace Watermark;

/// <summary>
/// A reference-free canonical form of a host whose output filters feed a batch norm directly (conv → BN, as in a
/// post-activation ResNet): each filter o times γ_o / √(σ_o² + ε), the weight the network computes with once the
/// batch norm is folded in. What an adversary can do to those filters without changing the function — permute them
/// (with the batch norm's channels), scale one by a &gt; 0 (absorbed in σ² or in γ), flip its sign (absorbed in γ) —
/// leaves the folded weight as it was, up to that permutation, which the filter mean ignores
/// (<see cref="BatchNormAbsorption"/>). So a mark read from the folded weight cannot be moved by them.
/// <para>
/// The folding looks at the model alone — never the key, never a reference — so the binomial null of a
/// plain verification still holds: for a model that never saw the key, the signs of X·w of a random X are fair coins
/// whatever w is. What it costs is on the owner's side: the mark was embedded in the raw filter mean, and the folded
/// mean weighs each filter by γ_o / √(σ_o² + ε), so the bits read this way are the embedded ones only as far as
/// those factors are alike across filters. Measure it on the unattacked model before relying on it.
/// </para>
/// </summary>
public static class BatchNormFolding
{
    /// <summary>
    /// The folded weight: filter o of <paramref name="weight"/> (row-major, <paramref name="shape"/>[0] filters)
    /// times γ_o / √(σ_o² + ε). The factors are computed in double and each product rounded once to float32.
    /// </summary>
    public static float[] Fold(ReadOnlySpan<float> weight, IReadOnlyList<long> shape, ReadOnlySpan<float> gamma, ReadOnlySpan<float> runningVar, double epsilon = BatchNormAbsorption.DefaultEpsilon)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Count < 2 || shape[0] <= 0)
        {
            throw new ArgumentException($"A host weight has filters on its first axis; shape {Capacity.ShapeText(shape)} has none.", nameof(shape));
        }

        if (!(epsilon >= 0) || !double.IsFinite(epsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "A batch norm's ε is a finite number ≥ 0 (PyTorch's default is 1e-5).");
        }

        var filters = (int)shape[0];
        var per = Capacity.FilterMeanLength(shape);
        if (weight.Length != filters * per)
        {
            throw new ArgumentException($"A weight of shape {Capacity.ShapeText(shape)} has {filters * per} values; {weight.Length} were given.", nameof(weight));
        }

        if (gamma.Length != filters || runningVar.Length != filters)
        {
            throw new ArgumentException($"The batch norm after the host has {gamma.Length} scales and {runningVar.Length} variances, but the host has {filters} filters; it does not follow the host.", nameof(gamma));
        }

        var folded = new float[weight.Length];
        for (var o = 0; o < filters; o++)
        {
            var variance = (double)runningVar[o] + epsilon;
            if (!(variance > 0) || !double.IsFinite(variance) || !float.IsFinite(gamma[o]))
            {
                throw new ArgumentException($"Channel {o} of the batch norm has scale {gamma[o]} and running variance {runningVar[o]}: not a batch norm's (σ² + ε must be positive and finite).", nameof(runningVar));
            }

            var factor = gamma[o] / Math.Sqrt(variance);
            var from = weight.Slice(o * per, per);
            var to = folded.AsSpan(o * per, per);
            for (var i = 0; i < per; i++)
            {
                to[i] = (float)(from[i] * factor);
            }
        }

        return folded;
    }
}
