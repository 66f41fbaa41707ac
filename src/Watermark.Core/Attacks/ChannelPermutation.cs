using System;
using System.Collections.Generic;

namespace Watermark.Attacks;

/// <summary>
/// Reorders a tensor along one axis. Applied consistently — a layer's output channels (weight axis 0,
/// bias, the following batch norm) and the next layer's input channels (weight axis 1) — it leaves
/// the network's function unchanged while moving the weights: the attack the filter mean of
/// Uchida et al. is invariant to on axis 0 and exposed to on axis 1.
/// </summary>
public static class ChannelPermutation
{
    /// <summary>A uniformly random permutation of 0..n−1, reproducible from a seed.</summary>
    public static int[] Random(int length, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var permutation = new int[length];
        for (var i = 0; i < length; i++)
        {
            permutation[i] = i;
        }

        new Random(seed).Shuffle(permutation);
        return permutation;
    }

    /// <summary>
    /// Returns the tensor with index i of <paramref name="axis"/> taken from index permutation[i] of the input
    /// (row-major, of <paramref name="shape"/>).
    /// </summary>
    public static float[] Apply(ReadOnlySpan<float> values, IReadOnlyList<long> shape, int axis, IReadOnlyList<int> permutation)
    {
        ArgumentNullException.ThrowIfNull(permutation);
        var layout = ChannelAxis.Of(values.Length, shape, axis, permutation.Count, "permutation", nameof(permutation));
        var result = new float[values.Length];
        for (long o = 0; o < layout.Outer; o++)
        {
            for (var c = 0; c < layout.Channels; c++)
            {
                values.Slice(layout.Start(o, permutation[c]), layout.Inner).CopyTo(result.AsSpan(layout.Start(o, c), layout.Inner));
            }
        }

        return result;
    }
}
