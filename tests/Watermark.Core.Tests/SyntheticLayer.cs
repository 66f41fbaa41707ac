using System;
using System.Collections.Generic;
using System.Linq;
using Watermark.Alignment;
using Watermark.Attacks;

namespace Watermark.Tests;

/// <summary>
/// A host conv [O, I, k, k] with the conv → batch norm → ReLU that produces its I input channels, built with
/// the structure of trained weights (smooth 3×3 kernels, per-channel and per-filter gains, a non-zero filter
/// mean) and, optionally, a strong mark for a key. Transforms follow the function-preserving attacks of
/// Pan et al. (KDD 2023) and Yan et al. (USENIX Security 2023), applied to all tensors consistently.
/// </summary>
internal sealed class SyntheticLayer
{
    public const int ProducerInputs = 16;

    public SyntheticLayer(float[] host, int outputs, int inputs, int kernelSide, float[] producer, float[] gamma, float[] beta, float[] mean, float[] variance)
    {
        Host = host;
        Outputs = outputs;
        Inputs = inputs;
        KernelSide = kernelSide;
        Producer = producer;
        Gamma = gamma;
        Beta = beta;
        Mean = mean;
        Variance = variance;
    }

    public float[] Host { get; }

    public int Outputs { get; }

    public int Inputs { get; }

    public int KernelSide { get; }

    public int Kernel => KernelSide * KernelSide;

    public long[] Shape => IsLinear ? [Outputs, Inputs] : [Outputs, Inputs, KernelSide, KernelSide];

    public bool IsLinear { get; init; }

    /// <summary>The producer conv [I, C, 3, 3].</summary>
    public float[] Producer { get; }

    public long[] ProducerShape => [Inputs, ProducerInputs, 3, 3];

    public float[] Gamma { get; }

    public float[] Beta { get; }

    public float[] Mean { get; }

    public float[] Variance { get; }

    public ProducerSignature Signature() => ProducerSignature.FromConvBatchNorm(Producer, ProducerShape, Gamma, Beta, Mean, Variance);

    /// <summary>A random layer with trained-like structure (or, with <paramref name="iid"/>, i.i.d. Gaussian times per-channel and per-filter gains: the hardest case, no structure to match on); with a key, its filter mean carries the key's bits with a wide margin.</summary>
    public static SyntheticLayer Create(int outputs, int inputs, int kernelSide, int seed, WatermarkKey? key = null, bool linear = false, bool iid = false)
    {
        var random = new Random(seed);
        var k = kernelSide * kernelSide;
        // Spatial bases: flat, two gradients, a centre bump (what trained 3×3 filters are mostly made of).
        var bases = new List<double[]>();
        for (var p = 0; p < 4; p++)
        {
            var basis = new double[k];
            for (var y = 0; y < kernelSide; y++)
            {
                for (var x = 0; x < kernelSide; x++)
                {
                    double cy = y - ((kernelSide - 1) / 2.0), cx = x - ((kernelSide - 1) / 2.0);
                    basis[(y * kernelSide) + x] = p switch { 0 => 1, 1 => cx, 2 => cy, _ => Math.Exp(-((cx * cx) + (cy * cy))) };
                }
            }

            bases.Add(basis);
        }

        var channelGain = Enumerable.Range(0, inputs).Select(_ => Math.Exp(0.5 * Normal(random))).ToArray();
        var filterGain = Enumerable.Range(0, outputs).Select(_ => Math.Exp(0.3 * Normal(random))).ToArray();
        // Each input channel leans on its own mix of the bases (an edge channel, a blob channel, ...).
        var channelMix = Enumerable.Range(0, inputs * bases.Count).Select(_ => Normal(random)).ToArray();
        var host = new float[outputs * inputs * k];
        for (var o = 0; o < outputs; o++)
        {
            for (var i = 0; i < inputs; i++)
            {
                for (var p = 0; p < bases.Count; p++)
                {
                    var coefficient = iid ? 0 : (0.6 * channelMix[(i * bases.Count) + p]) + Normal(random);
                    for (var t = 0; t < k; t++)
                    {
                        host[(((o * inputs) + i) * k) + t] += (float)(coefficient * bases[p][t] * (kernelSide == 1 ? 1 : 0.5));
                    }
                }

                for (var t = 0; t < k; t++)
                {
                    var at = (((o * inputs) + i) * k) + t;
                    host[at] = iid
                        ? (float)(Normal(random) * channelGain[i] * filterGain[o] * 0.1)
                        : (float)((host[at] + (0.5 * Normal(random)) + 0.15) * channelGain[i] * filterGain[o] * 0.1);
                }
            }
        }

        if (key is not null)
        {
            Embed(host, outputs, inputs * k, key);
        }

        var producer = Enumerable.Range(0, inputs * ProducerInputs * 9).Select(_ => (float)(Normal(random) * 0.1)).ToArray();
        var gamma = Enumerable.Range(0, inputs).Select(_ => (float)(0.5 + random.NextDouble())).ToArray();
        var beta = Enumerable.Range(0, inputs).Select(_ => (float)(0.1 * Normal(random))).ToArray();
        var mean = Enumerable.Range(0, inputs).Select(_ => (float)(0.1 * Normal(random))).ToArray();
        var variance = Enumerable.Range(0, inputs).Select(_ => (float)(0.5 + (1.5 * random.NextDouble()))).ToArray();
        return new SyntheticLayer(host, outputs, inputs, kernelSide, producer, gamma, beta, mean, variance) { IsLinear = linear };
    }

    /// <summary>
    /// Adds c·δ to every filter, δ with Xδ = 2b − 1, c such that the smallest margin b_j-signed (Xw)_j is a third of
    /// the typical |Xw_0| — a mark as the embedding regulariser leaves it: on the right side, with room.
    /// </summary>
    private static void Embed(float[] host, int outputs, int m, WatermarkKey key)
    {
        var w = FilterMean.Compute(host, [outputs, m]);
        var x = key.ProjectionMatrix().ToArray();
        var b = key.TargetBits().ToArray();
        // δ = Xᵀ(XXᵀ)⁻¹(2b − 1): the least-norm direction with (Xδ)_j = ±1, so every bit moves the right way.
        var t = key.Bits;
        var system = new double[t, t + 1];
        for (var j = 0; j < t; j++)
        {
            for (var l = 0; l < t; l++)
            {
                system[j, l] = Enumerable.Range(0, m).Sum(i => (double)x[(j * m) + i] * x[(l * m) + i]);
            }

            system[j, t] = b[j] ? 1 : -1;
        }

        var a = Solve(system, t);
        var direction = new double[m];
        for (var j = 0; j < t; j++)
        {
            for (var i = 0; i < m; i++)
            {
                direction[i] += x[(j * m) + i] * a[j];
            }
        }

        double Project(double[] v, int j) => Enumerable.Range(0, m).Sum(i => x[(j * m) + i] * v[i]);
        var typical = Math.Sqrt(Enumerable.Range(0, key.Bits).Average(j => Project(w, j) * Project(w, j)));
        // The signed margin of bit j is linear in c: s_j(Xw)_j + c·s_j(Xδ)_j; take the least c that lifts all to the target.
        var c = 0.0;
        for (var j = 0; j < key.Bits; j++)
        {
            var sign = b[j] ? 1 : -1;
            var slope = sign * Project(direction, j);
            if (!(slope > 0))
            {
                throw new InvalidOperationException($"Bit {j} cannot be embedded along Xᵀ(2b − 1).");
            }

            c = Math.Max(c, ((typical / 3) - (sign * Project(w, j))) / slope);
        }

        for (var o = 0; o < outputs; o++)
        {
            for (var i = 0; i < m; i++)
            {
                host[(o * m) + i] += (float)(c * direction[i]);
            }
        }
    }

    /// <summary>Gaussian elimination with partial pivoting on an n×(n+1) augmented matrix.</summary>
    private static double[] Solve(double[,] system, int n)
    {
        for (var col = 0; col < n; col++)
        {
            var pivot = Enumerable.Range(col, n - col).MaxBy(r => Math.Abs(system[r, col]));
            for (var k = 0; k <= n; k++)
            {
                (system[col, k], system[pivot, k]) = (system[pivot, k], system[col, k]);
            }

            for (var r = col + 1; r < n; r++)
            {
                var f = system[r, col] / system[col, col];
                for (var k = col; k <= n; k++)
                {
                    system[r, k] -= f * system[col, k];
                }
            }
        }

        var solution = new double[n];
        for (var r = n - 1; r >= 0; r--)
        {
            var sum = system[r, n];
            for (var k = r + 1; k < n; k++)
            {
                sum -= system[r, k] * solution[k];
            }

            solution[r] = sum / system[r, r];
        }

        return solution;
    }

    public SyntheticLayer Clone() => new((float[])Host.Clone(), Outputs, Inputs, KernelSide, (float[])Producer.Clone(), (float[])Gamma.Clone(), (float[])Beta.Clone(), (float[])Mean.Clone(), (float[])Variance.Clone()) { IsLinear = IsLinear };

    /// <summary>LayerShuffle on the host's inputs: producer filters, batch norm and host input slices move together.</summary>
    public SyntheticLayer PermuteInputs(int[] permutation) => new(
        ChannelPermutation.Apply(Host, [Outputs, Inputs, Kernel], 1, permutation),
        Outputs,
        Inputs,
        KernelSide,
        ChannelPermutation.Apply(Producer, ProducerShape, 0, permutation),
        ChannelPermutation.Apply(Gamma, [Inputs], 0, permutation),
        ChannelPermutation.Apply(Beta, [Inputs], 0, permutation),
        ChannelPermutation.Apply(Mean, [Inputs], 0, permutation),
        ChannelPermutation.Apply(Variance, [Inputs], 0, permutation)) { IsLinear = IsLinear };

    /// <summary>NeuronScale through the batch norm: γ, β × α (the ReLU output × α), host input slices ÷ α.</summary>
    public SyntheticLayer ScaleInputs(float[] factors)
    {
        var result = Clone();
        ChannelScaling.Apply(result.Gamma, [Inputs], 0, factors);
        ChannelScaling.Apply(result.Beta, [Inputs], 0, factors);
        ChannelScaling.Apply(result.Host, [Outputs, Inputs, Kernel], 1, factors, divide: true);
        return result;
    }

    /// <summary>Output side of conv → BN → ReLU: filters permuted, scaled by a_o &gt; 0 and negated (the next batch norm absorbs all three).</summary>
    public SyntheticLayer TransformOutputs(int[] permutation, float[] scales, bool[] flips)
    {
        var result = Clone();
        var moved = ChannelPermutation.Apply(Host, [Outputs, Inputs * Kernel], 0, permutation);
        var factors = scales.Select((a, o) => flips[o] ? -a : a).ToArray();
        for (var o = 0; o < Outputs; o++)
        {
            for (var e = 0; e < Inputs * Kernel; e++)
            {
                moved[(o * Inputs * Kernel) + e] *= factors[o];
            }
        }

        moved.CopyTo(result.Host, 0);
        return result;
    }

    /// <summary>
    /// NeuronClique: two new identical producer channels whose host slices are +V and −V (V random, of the
    /// typical slice size), appended as the last input channels.
    /// </summary>
    public SyntheticLayer AddClique(int seed)
    {
        var random = new Random(seed);
        var filter = Enumerable.Range(0, ProducerInputs * 9).Select(_ => (float)(Normal(random) * 0.1)).ToArray();
        var v = Enumerable.Range(0, Outputs * Kernel).Select(_ => (float)(Normal(random) * Std(Host))).ToArray();
        var g = (float)(0.5 + random.NextDouble());
        return Append([(filter, g, 0.05f, 0f, 1f, v), (filter, g, 0.05f, 0f, 1f, v.Select(x => -x).ToArray())]);
    }

    /// <summary>
    /// NeuronSplit: channel c is copied with its activation scaled by κ; the host slice V becomes V₁ = λV + R on
    /// the original and (V − V₁)/κ on the copy, so the sum is unchanged. The copy is appended last.
    /// </summary>
    public SyntheticLayer Split(int channel, int seed)
    {
        var random = new Random(seed);
        var kappa = (float)(0.5 + (2 * random.NextDouble()));
        var lambda = random.NextDouble();
        var original = new float[Outputs * Kernel];
        for (var o = 0; o < Outputs; o++)
        {
            Host.AsSpan(((o * Inputs) + channel) * Kernel, Kernel).CopyTo(original.AsSpan(o * Kernel, Kernel));
        }

        var first = original.Select(x => (float)((lambda * x) + (0.5 * Normal(random) * Std(original)))).ToArray();
        var second = original.Zip(first, (x, f) => (x - f) / kappa).ToArray();
        var result = Append([(Producer.AsSpan(channel * ProducerInputs * 9, ProducerInputs * 9).ToArray(), Gamma[channel] * kappa, Beta[channel] * kappa, Mean[channel], Variance[channel], second)]);
        for (var o = 0; o < Outputs; o++)
        {
            first.AsSpan(o * Kernel, Kernel).CopyTo(result.Host.AsSpan(((o * result.Inputs) + channel) * Kernel, Kernel));
        }

        return result;
    }

    /// <summary>Adds dummy host filters (their consumers' weights would cancel them): random, of the typical size.</summary>
    public SyntheticLayer AddOutputs(int count, int seed)
    {
        var random = new Random(seed);
        var std = Std(Host);
        var extra = Enumerable.Range(0, count * Inputs * Kernel).Select(_ => (float)(Normal(random) * std)).ToArray();
        return new SyntheticLayer([.. Host, .. extra], Outputs + count, Inputs, KernelSide, Producer, Gamma, Beta, Mean, Variance) { IsLinear = IsLinear };
    }

    /// <summary>Fine-tuning stand-in: host and producer weights × (1 − shrink) plus N(0, (σ_rel·std)²) noise, σ relative to each host input slice's own spread (and the producer's).</summary>
    public SyntheticLayer FineTune(double relativeSigma, double shrink, int seed)
    {
        var result = Clone();
        var random = new Random(seed);
        for (var i = 0; i < Inputs; i++)
        {
            var slice = Enumerable.Range(0, Outputs * Kernel).Select(e => result.Host[((((e / Kernel) * Inputs) + i) * Kernel) + (e % Kernel)]).ToArray();
            var sigma = relativeSigma * Std(slice);
            for (var o = 0; o < Outputs; o++)
            {
                for (var t = 0; t < Kernel; t++)
                {
                    var at = (((o * Inputs) + i) * Kernel) + t;
                    result.Host[at] = (float)((result.Host[at] * (1 - shrink)) + (sigma * Normal(random)));
                }
            }
        }

        var producerSigma = relativeSigma * Std(Producer);
        for (var e = 0; e < result.Producer.Length; e++)
        {
            result.Producer[e] = (float)((result.Producer[e] * (1 - shrink)) + (producerSigma * Normal(random)));
        }

        return result;
    }

    private SyntheticLayer Append(IReadOnlyList<(float[] Filter, float Gamma, float Beta, float Mean, float Variance, float[] Slice)> channels)
    {
        var inputs = Inputs + channels.Count;
        var host = new float[Outputs * inputs * Kernel];
        for (var o = 0; o < Outputs; o++)
        {
            Host.AsSpan(o * Inputs * Kernel, Inputs * Kernel).CopyTo(host.AsSpan(o * inputs * Kernel));
            for (var c = 0; c < channels.Count; c++)
            {
                channels[c].Slice.AsSpan(o * Kernel, Kernel).CopyTo(host.AsSpan(((o * inputs) + Inputs + c) * Kernel));
            }
        }

        return new SyntheticLayer(
            host,
            Outputs,
            inputs,
            KernelSide,
            [.. Producer, .. channels.SelectMany(c => c.Filter)],
            [.. Gamma, .. channels.Select(c => c.Gamma)],
            [.. Beta, .. channels.Select(c => c.Beta)],
            [.. Mean, .. channels.Select(c => c.Mean)],
            [.. Variance, .. channels.Select(c => c.Variance)]) { IsLinear = IsLinear };
    }

    public static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    public static double Std(IReadOnlyList<float> values)
    {
        var mean = values.Average(v => (double)v);
        return Math.Sqrt(values.Average(v => (v - mean) * (v - mean)));
    }
}
