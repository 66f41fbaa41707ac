using System;
using System.Collections.Generic;
using System.Numerics;
using System.Runtime.InteropServices;

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
        for (var i = FiniteUpTo(weight); i < weight.Length; i++)
        {
            if (!float.IsFinite(weight[i]))
            {
                throw new WatermarkException($"Slot '{key.Parameter}': the weight holds {(float.IsNaN(weight[i]) ? "NaN" : "an infinite value")} at index {i}; the model diverged or the file is corrupt, so no mark can be read.");
            }
        }

        return Score(key, FilterMean.Compute(weight, shape));
    }

    // How many leading values are known finite, a vector at a time (v − v is 0 for a finite v, NaN for ±∞ and NaN);
    // the scalar loop looks at the rest and names the first value that is not.
    private static int FiniteUpTo(ReadOnlySpan<float> weight)
    {
        var vectors = MemoryMarshal.Cast<float, Vector<float>>(weight);
        for (var v = 0; v < vectors.Length; v++)
        {
            if (!Vector.EqualsAll(vectors[v] - vectors[v], Vector<float>.Zero))
            {
                return v * Vector<float>.Count;
            }
        }

        return vectors.Length * Vector<float>.Count;
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

        var target = key.TargetBits();
        var projection = Project(key, filterMean);
        var extracted = new bool[key.Bits];
        var matched = 0;
        for (var j = 0; j < key.Bits; j++)
        {
            var y = projection[j];
            if (!double.IsFinite(y))
            {
                throw new WatermarkException($"Slot '{key.Parameter}': the projection Xw is not finite; the weights are corrupt.");
            }

            extracted[j] = y >= 0;
            if (extracted[j] == target[j])
            {
                matched++;
            }
        }

        return new SlotVerification(key, extracted, projection, matched);
    }

    /// <summary>
    /// y = Xw in double precision: y_j = Σ_i x_ji·w_i, each sum taken in the order i = 0, 1, …, M − 1 with a
    /// rounded product and a rounded sum per term (no fused multiply-add), so y is the same to the bit on every
    /// machine whatever its vector width. The vectors run over j (T sums at once, X read by column), never over i.
    /// </summary>
    internal static double[] Project(WatermarkKey key, ReadOnlySpan<double> w)
    {
        if (!key.ProjectsByColumn)
        {
            // The first projection with a key reads X by row, as it is derived: the same sums, in the same order.
            var x = key.ProjectionArray;
            var m = w.Length;
            var rows = new double[key.Bits];
            for (var j = 0; j < rows.Length; j++)
            {
                var row = x.AsSpan(j * m, m);
                var sum = 0.0;
                for (var i = 0; i < m; i++)
                {
                    sum += row[i] * w[i];
                }

                rows[j] = sum;
            }

            return rows;
        }

        var bits = key.Bits;
        var columns = key.ProjectionByColumn;
        var y = new double[bits];
        var sums = MemoryMarshal.Cast<double, Vector<double>>(y.AsSpan());
        var vectorized = Vector.IsHardwareAccelerated ? bits / Vector<float>.Count * Vector<float>.Count : 0;
        for (var i = 0; i < w.Length; i++)
        {
            var column = columns.AsSpan(i * bits, bits);
            var wi = w[i];
            var scale = new Vector<double>(wi);
            var values = MemoryMarshal.Cast<float, Vector<float>>(column[..vectorized]);
            for (var v = 0; v < values.Length; v++)
            {
                Vector.Widen(values[v], out var low, out var high);
                sums[2 * v] += low * scale;
                sums[(2 * v) + 1] += high * scale;
            }

            for (var j = vectorized; j < bits; j++)
            {
                y[j] += column[j] * wi;
            }
        }

        return y;
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
