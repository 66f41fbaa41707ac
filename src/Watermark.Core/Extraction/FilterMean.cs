using System;
using System.Collections.Generic;

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
            var row = weight.Slice((int)(l * m), m);
            for (var i = 0; i < m; i++)
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
