using System;
using System.Collections.Generic;

namespace Watermark;

/// <summary>
/// The filter-mean length M of a host weight and the capacity rule T &lt; M (Uchida et al. §4.2):
/// with a single-layer projection, T ≥ M makes the embedding over-determined.
/// </summary>
public static class Capacity
{
    /// <summary>
    /// M for a weight of the given shape: the product of all dimensions but the first (filters/outputs).
    /// Conv1d [L,D,S] → D·S; Conv2d [L,D,S,S] → D·S²; Conv3d → D·S³; Linear [out,in] → in.
    /// For grouped convs the stored D is already in_channels / groups.
    /// </summary>
    public static int FilterMeanLength(IReadOnlyList<long> shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Count < 2 || shape.Count > 5)
        {
            throw new ArgumentException($"A host weight has 2 (Linear) to 5 (Conv3d) dimensions; this one has {shape.Count} ({ShapeText(shape)}).", nameof(shape));
        }

        long m = 1;
        for (var i = 0; i < shape.Count; i++)
        {
            if (shape[i] <= 0)
            {
                throw new ArgumentException($"Dimension {i} of the weight shape {ShapeText(shape)} is not positive.", nameof(shape));
            }

            if (i > 0)
            {
                m *= shape[i];
                if (m > int.MaxValue)
                {
                    throw new ArgumentException($"The filter mean of a weight of shape {ShapeText(shape)} is too long.", nameof(shape));
                }
            }
        }

        return (int)m;
    }

    /// <summary>Whether T bits fit a filter mean of M entries (T &lt; M).</summary>
    public static bool Fits(int bits, int filterMeanLength) => bits < filterMeanLength;

    /// <summary>The capacity diagnostic's text, shared word for word with the analyzer's WMK001.</summary>
    public static string Describe(string slot, int bits, int filterMeanLength) =>
        $"Watermark of {bits} bits does not fit '{slot}': its filter mean has M = {filterMeanLength} entries and T must be below M; use fewer bits or a layer with more input channels or a larger kernel";

    /// <summary>Formats a shape as [a, b, c].</summary>
    public static string ShapeText(IReadOnlyList<long> shape) => "[" + string.Join(", ", shape) + "]";
}
