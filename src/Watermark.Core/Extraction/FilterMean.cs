using System;
using System.Collections.Generic;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Watermark;

/// <summary>
/// The filter-mean vector w = flatten(mean over the first axis of W) ∈ R^M (Uchida et al. §3.1):
/// averaging over filters makes w independent of their (arbitrary) order. Flattening is C-order
/// over the remaining axes; that order is part of the key-file format.
/// </summary>
public static class FilterMean
{
    /// <summary>Computes w from a row-major weight of the given shape, accumulating in double precision.</summary>
    public static double[] Compute(ReadOnlySpan<float> weight, IReadOnlyList<long> shape)
    {
        var m = Capacity.FilterMeanLength(shape);
        var filters = shape[0];
        if (weight.Length != filters * m)
        {
            throw new ArgumentException($"A weight of shape {Capacity.ShapeText(shape)} has {filters * m} values; {weight.Length} were given.", nameof(weight));
        }

        var w = new double[m];
        for (long l = 0; l < filters; l++)
        {
            // Each w[i] adds its filters' values in filter order, as the scalar loop would, so the sums are the
            // same to the bit; the vectors only do several i at once.
            var row = weight.Slice((int)(l * m), m);
            var i = 0;
            if (Vector.IsHardwareAccelerated)
            {
                var sums = MemoryMarshal.Cast<double, Vector<double>>(w.AsSpan());
                var values = MemoryMarshal.Cast<float, Vector<float>>(row);
                for (var v = 0; v < values.Length; v++)
                {
                    Vector.Widen(values[v], out var low, out var high);
                    sums[2 * v] += low;
                    sums[(2 * v) + 1] += high;
                }

                i = values.Length * Vector<float>.Count;
            }

            for (; i < m; i++)
            {
                w[i] += row[i];
            }
        }

        for (var i = 0; i < m; i++)
        {
            w[i] /= filters;
        }

        return w;
    }
}
