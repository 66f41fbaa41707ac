using System;
using System.Collections.Generic;

namespace Watermark.Attacks;

/// <summary>
/// Rescales a tensor's channels along one axis by positive factors α_d. Since ReLU(x/α) = ReLU(x)/α for
/// α &gt; 0, dividing a layer's output channel d (its weight and bias on axis 0, or the batch norm's weight
/// and bias in front of the ReLU) by α_d and multiplying the next layer's input channel d (weight axis 1)
/// by α_d leaves the network's function unchanged — and changes the next layer's filter mean, which the
/// mark of Uchida et al. is read from.
/// </summary>
public static class ChannelScaling
{
    /// <summary>
    /// <paramref name="channels"/> factors log-uniform in [1/<paramref name="range"/>, <paramref name="range"/>]
    /// (α = range^u, u uniform in [−1, 1]), reproducible from a seed.
    /// </summary>
    public static float[] Random(int channels, double range, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(channels);
        if (!(range >= 1 && double.IsFinite(range)))
        {
            throw new ArgumentOutOfRangeException(nameof(range), range, "The factors lie in [1/range, range], so range is a finite number ≥ 1, e.g. 2.");
        }

        var random = new Random(seed);
        var factors = new float[channels];
        for (var d = 0; d < channels; d++)
        {
            factors[d] = (float)Math.Exp(((random.NextDouble() * 2) - 1) * Math.Log(range));
        }

        return factors;
    }

    /// <summary>
    /// Multiplies (or, with <paramref name="divide"/>, divides) channel d of <paramref name="axis"/> of the
    /// row-major tensor of <paramref name="shape"/> by <paramref name="factors"/>[d], in place.
    /// </summary>
    public static void Apply(Span<float> values, IReadOnlyList<long> shape, int axis, IReadOnlyList<float> factors, bool divide = false)
    {
        ArgumentNullException.ThrowIfNull(factors);
        foreach (var f in factors)
        {
            if (!(f > 0) || !float.IsFinite(f))
            {
                throw new ArgumentException($"Rescaling keeps a network's function only for positive, finite factors (ReLU(x/α) = ReLU(x)/α needs α > 0); {f} was given.", nameof(factors));
            }
        }

        var layout = ChannelAxis.Of(values.Length, shape, axis, factors.Count, "factor list", nameof(factors));
        for (long o = 0; o < layout.Outer; o++)
        {
            for (var c = 0; c < layout.Channels; c++)
            {
                var run = values.Slice(layout.Start(o, c), layout.Inner);
                var factor = factors[c];
                for (var i = 0; i < run.Length; i++)
                {
                    run[i] = divide ? run[i] / factor : run[i] * factor;
                }
            }
        }
    }
}
