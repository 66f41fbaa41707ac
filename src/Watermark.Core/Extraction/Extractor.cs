using System;
using System.Collections.Generic;

namespace Watermark;

/// <summary>
/// Reads a mark from host weights in managed code: w = filter mean, y = Xw, b̂_j = [y_j ≥ 0]
/// (Uchida et al. §3.1), then counts matches against the key's bits. Needs no libtorch.
/// </summary>
public static class Extractor
{
    /// <summary>Extracts and scores one slot from its host weight (row-major float32 of the key's shape).</summary>
    public static SlotVerification Extract(WatermarkKey key, ReadOnlySpan<float> weight, IReadOnlyList<long> shape)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(shape);
        CheckShape(key, shape);
        for (var i = 0; i < weight.Length; i++)
        {
            if (!float.IsFinite(weight[i]))
            {
                throw new WatermarkException($"Slot '{key.Parameter}': the weight holds {(float.IsNaN(weight[i]) ? "NaN" : "an infinite value")} at index {i}; the model diverged or the file is corrupt, so no mark can be read.");
            }
        }

        return Score(key, FilterMean.Compute(weight, shape));
    }

    /// <summary>Scores a slot from its filter mean w (length M).</summary>
    public static SlotVerification Score(WatermarkKey key, ReadOnlySpan<double> filterMean)
    {
        ArgumentNullException.ThrowIfNull(key);
        var m = key.FilterMeanLength;
        if (filterMean.Length != m)
        {
            throw new WatermarkException($"Slot '{key.Parameter}': the key expects a filter mean of M = {m} entries; {filterMean.Length} were given.");
        }

        var x = key.ProjectionArray;
        var target = key.TargetBits();
        var projection = new double[key.Bits];
        var extracted = new bool[key.Bits];
        var matched = 0;
        for (var j = 0; j < key.Bits; j++)
        {
            var row = x.AsSpan(j * m, m);
            var y = 0.0;
            for (var i = 0; i < m; i++)
            {
                y += row[i] * filterMean[i];
            }

            if (!double.IsFinite(y))
            {
                throw new WatermarkException($"Slot '{key.Parameter}': the projection Xw is not finite; the weights are corrupt.");
            }

            projection[j] = y;
            extracted[j] = y >= 0;
            if (extracted[j] == target[j])
            {
                matched++;
            }
        }

        return new SlotVerification(key, extracted, projection, matched);
    }

    internal static void CheckShape(WatermarkKey key, IReadOnlyList<long> shape)
    {
        var same = shape.Count == key.Shape.Length;
        for (var i = 0; same && i < shape.Count; i++)
        {
            same = shape[i] == key.Shape[i];
        }

        if (!same)
        {
            throw new WatermarkException($"Slot '{key.Parameter}': the key was made for a weight of shape {Capacity.ShapeText(key.Shape)} but this weight is {Capacity.ShapeText(shape)}; check that the key file belongs to this model and slot.");
        }
    }
}
