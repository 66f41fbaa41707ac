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
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(permutation);
        if (axis < 0 || axis >= shape.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(axis), axis, $"A tensor of shape {Capacity.ShapeText(shape)} has no axis {axis}.");
        }

        if (shape[axis] != permutation.Count)
        {
            throw new ArgumentException($"Axis {axis} of shape {Capacity.ShapeText(shape)} has {shape[axis]} channels; the permutation has {permutation.Count}.", nameof(permutation));
        }

        long inner = 1;
        for (var d = axis + 1; d < shape.Count; d++)
        {
            inner *= shape[d];
        }

        var outer = values.Length / (shape[axis] * inner);
        if (outer * shape[axis] * inner != values.Length)
        {
            throw new ArgumentException($"A tensor of shape {Capacity.ShapeText(shape)} cannot hold {values.Length} values.", nameof(values));
        }

        var result = new float[values.Length];
        var block = (int)inner;
        var channels = (int)shape[axis];
        for (long o = 0; o < outer; o++)
        {
            var baseIndex = (int)(o * channels * block);
            for (var c = 0; c < channels; c++)
            {
                values.Slice(baseIndex + (permutation[c] * block), block).CopyTo(result.AsSpan(baseIndex + (c * block), block));
            }
        }

        return result;
    }
}
