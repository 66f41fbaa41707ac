using System;

namespace Watermark.Attacks;

/// <summary>Adds i.i.d. Gaussian noise N(0, (σ_rel · std(W))²) to a weight tensor, reproducibly from a seed.</summary>
public static class GaussianNoise
{
    /// <summary>Adds the noise in place; returns the absolute σ used.</summary>
    public static double Add(Span<float> weights, double relativeSigma, int seed)
    {
        if (!(relativeSigma >= 0 && double.IsFinite(relativeSigma)))
        {
            throw new ArgumentOutOfRangeException(nameof(relativeSigma), relativeSigma, "The noise level is a non-negative multiple of the weights' standard deviation, e.g. 0.1.");
        }

        if (weights.IsEmpty)
        {
            return 0;
        }

        var sigma = relativeSigma * StandardDeviation(weights);
        AddAbsolute(weights, sigma, seed);
        return sigma;
    }

    /// <summary>The population standard deviation of the values.</summary>
    internal static double StandardDeviation(ReadOnlySpan<float> weights)
    {
        double mean = 0;
        foreach (var w in weights)
        {
            mean += w;
        }

        mean /= weights.Length;
        double variance = 0;
        foreach (var w in weights)
        {
            variance += (w - mean) * (w - mean);
        }

        return Math.Sqrt(variance / weights.Length);
    }

    /// <summary>Adds N(0, σ²) noise of a given absolute σ in place.</summary>
    internal static void AddAbsolute(Span<float> weights, double sigma, int seed)
    {
        var random = new Random(seed);
        for (var i = 0; i < weights.Length; i += 2)
        {
            // Box–Muller: two independent normals from two uniforms in (0, 1].
            var u1 = 1.0 - random.NextDouble();
            var u2 = random.NextDouble();
            var radius = Math.Sqrt(-2.0 * Math.Log(u1));
            weights[i] += (float)(sigma * radius * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < weights.Length)
            {
                weights[i + 1] += (float)(sigma * radius * Math.Sin(2 * Math.PI * u2));
            }
        }
    }
}
