using System;
using System.Collections.Generic;

namespace Watermark.Attacks;

/// <summary>
/// "Weight shifting" of the Watermark-Robustness-Toolbox (Lukas et al., S&amp;P 2022), aimed straight at
/// the filter mean: W ← W − s·mean₀(W) + N(0, std(W)²), where mean₀ is the mean over the first axis
/// (the filter mean w, subtracted from every filter) and std(W) is taken before the shift. With
/// s = 1.5 the filter mean becomes −0.5·w plus noise: every projected bit tends to flip. The toolbox
/// then fine-tunes to recover accuracy; this is the weight transform alone, and it changes the function.
/// </summary>
public static class WeightShifting
{
    /// <summary>The toolbox's shift s.</summary>
    public const double DefaultShift = 1.5;

    /// <summary>Shifts a row-major weight of <paramref name="shape"/> in place; returns the σ of the added noise.</summary>
    public static double Apply(Span<float> weights, IReadOnlyList<long> shape, double shift = DefaultShift, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (!(shift >= 0 && double.IsFinite(shift)))
        {
            throw new ArgumentOutOfRangeException(nameof(shift), shift, "The shift s is a non-negative multiple of the filter mean, e.g. 1.5.");
        }

        if (weights.IsEmpty)
        {
            return 0;
        }

        if (shape.Count < 2 || shape[0] <= 0 || weights.Length % shape[0] != 0)
        {
            throw new ArgumentException($"A weight of shape {Capacity.ShapeText(shape)} cannot hold {weights.Length} values, or has no filters to average over.", nameof(shape));
        }

        var sigma = GaussianNoise.StandardDeviation(weights);
        var filters = (int)shape[0];
        var m = weights.Length / filters;
        var mean = FilterMean.Compute(weights, [filters, m]);
        for (var l = 0; l < filters; l++)
        {
            var row = weights.Slice(l * m, m);
            for (var i = 0; i < m; i++)
            {
                row[i] = (float)(row[i] - (shift * mean[i]));
            }
        }

        GaussianNoise.AddAbsolute(weights, sigma, seed);
        return sigma;
    }
}
