using System;
using System.Collections.Generic;

namespace Watermark.Attacks;

/// <summary>
/// Negates a tensor's channels along one axis (SignFlip of Pan et al., KDD 2023). Negating a layer's output
/// filter o (its weight and bias on axis 0) keeps the network's function when what reads the channel absorbs
/// the sign: a batch norm right after it, through its γ and running mean (<see cref="BatchNormAbsorption.AbsorbFlip"/>).
/// A ReLU does not absorb it, so the host's input channels (which come from a ReLU) cannot be flipped.
/// </summary>
public static class SignFlip
{
    /// <summary>
    /// Which of <paramref name="channels"/> channels to flip: exactly round(<paramref name="fraction"/> · n) of
    /// them, chosen uniformly, reproducible from a seed.
    /// </summary>
    public static bool[] Random(int channels, double fraction, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(channels);
        if (!(fraction >= 0 && fraction <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "The fraction of channels to flip lies in [0, 1], e.g. 0.5.");
        }

        var order = ChannelPermutation.Random(channels, seed);
        var count = (int)Math.Round(fraction * channels, MidpointRounding.AwayFromZero);
        var flipped = new bool[channels];
        for (var i = 0; i < count; i++)
        {
            flipped[order[i]] = true;
        }

        return flipped;
    }

    /// <summary>Negates channel d of <paramref name="axis"/> of the row-major tensor of <paramref name="shape"/> where <paramref name="flipped"/>[d], in place.</summary>
    public static void Apply(Span<float> values, IReadOnlyList<long> shape, int axis, IReadOnlyList<bool> flipped)
    {
        ArgumentNullException.ThrowIfNull(flipped);
        var layout = ChannelAxis.Of(values.Length, shape, axis, flipped.Count, "list of flipped channels", nameof(flipped));
        for (long o = 0; o < layout.Outer; o++)
        {
            for (var c = 0; c < layout.Channels; c++)
            {
                if (!flipped[c])
                {
                    continue;
                }

                var run = values.Slice(layout.Start(o, c), layout.Inner);
                for (var i = 0; i < run.Length; i++)
                {
                    run[i] = -run[i];
                }
            }
        }
    }
}
