using System;

namespace Watermark.Attacks;

/// <summary>Which weights pruning removes first (Uchida et al. §4.3, Fig. 5).</summary>
public enum PruningOrder
{
    /// <summary>The smallest |w| first: the usual magnitude pruning, and the paper's attack.</summary>
    Ascending,

    /// <summary>The largest |w| first.</summary>
    Descending,

    /// <summary>A random choice of weights, reproducible from a seed.</summary>
    Random,
}

/// <summary>Parameter pruning of one weight tensor: set a fraction of its entries to zero.</summary>
public static class Pruning
{
    /// <summary>
    /// Zeroes round(rate · n) entries of <paramref name="weights"/> in the given order; ties in |w| go to
    /// the lower index, so the result is deterministic. Returns how many entries were zeroed.
    /// </summary>
    public static int Prune(Span<float> weights, double rate, PruningOrder order, int seed = 0)
    {
        if (!(rate >= 0 && rate <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(rate), rate, "The pruning rate is a fraction in [0, 1], e.g. 0.65 for 65%.");
        }

        var count = (int)Math.Round(rate * weights.Length, MidpointRounding.AwayFromZero);
        var indices = new int[weights.Length];
        for (var i = 0; i < indices.Length; i++)
        {
            indices[i] = i;
        }

        if (order == PruningOrder.Random)
        {
            new Random(seed).Shuffle(indices);
        }
        else
        {
            var magnitudes = new float[weights.Length];
            for (var i = 0; i < magnitudes.Length; i++)
            {
                magnitudes[i] = order == PruningOrder.Ascending ? Math.Abs(weights[i]) : -Math.Abs(weights[i]);
            }

            // A stable order: equal magnitudes keep index order.
            var keys = new (float Magnitude, int Index)[weights.Length];
            for (var i = 0; i < keys.Length; i++)
            {
                keys[i] = (magnitudes[i], i);
            }

            Array.Sort(keys);
            for (var i = 0; i < keys.Length; i++)
            {
                indices[i] = keys[i].Index;
            }
        }

        for (var i = 0; i < count; i++)
        {
            weights[indices[i]] = 0f;
        }

        return count;
    }
}
