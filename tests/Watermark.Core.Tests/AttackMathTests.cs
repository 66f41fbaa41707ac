using System;
using System.Linq;
using Watermark.Attacks;
using Xunit;

namespace Watermark.Tests;

/// <summary>The weight attacks' managed math (pruning, quantization, noise, channel permutation and scaling), without any model file.</summary>
public class AttackMathTests
{
    [Fact]
    public void AscendingPruningZeroesTheSmallestMagnitudes()
    {
        float[] w = [5, -1, 3, -2, 4, 0.5f];
        Assert.Equal(3, Pruning.Prune(w, 0.5, PruningOrder.Ascending));
        Assert.Equal([5f, 0, 3, 0, 4, 0], w);
    }

    [Fact]
    public void DescendingPruningZeroesTheLargestMagnitudes()
    {
        float[] w = [5, -1, 3, -2, 4, 0.5f];
        Assert.Equal(2, Pruning.Prune(w, 1.0 / 3, PruningOrder.Descending));
        Assert.Equal([0f, -1, 3, -2, 0, 0.5f], w);
    }

    [Fact]
    public void RandomPruningIsReproducibleAndExact()
    {
        var a = Enumerable.Range(1, 1000).Select(i => (float)i).ToArray();
        var b = a.ToArray();
        Pruning.Prune(a, 0.3, PruningOrder.Random, seed: 7);
        Pruning.Prune(b, 0.3, PruningOrder.Random, seed: 7);
        Assert.Equal(a, b);
        Assert.Equal(300, a.Count(v => v == 0));
    }

    [Fact]
    public void PruningRatesOutsideZeroToOneAreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Pruning.Prune(new float[4], 1.5, PruningOrder.Ascending));
        Assert.Throws<ArgumentOutOfRangeException>(() => Pruning.Prune(new float[4], double.NaN, PruningOrder.Ascending));
    }

    [Fact]
    public void TwoBitQuantizationKeepsThreeLevelsPerTensor()
    {
        float[] w = [1, -0.2f, 0.6f, -4, 0.1f, 2.1f];
        Quantization.Quantize(w, [2, 3], bits: 2, perChannel: false);
        Assert.Equal([0f, 0, 0, -4, 0, 4], w);
    }

    [Fact]
    public void PerChannelQuantizationScalesEachOutputChannel()
    {
        float[] w = [1, 0.4f, -0.6f, 100, 40, -60];
        Quantization.Quantize(w, [2, 3], bits: 2, perChannel: true);
        Assert.Equal([1f, 0, -1, 100, 0, -100], w);
    }

    [Fact]
    public void Int8QuantizationErrorIsAtMostHalfAStep()
    {
        var random = new Random(3);
        var w = Enumerable.Range(0, 4096).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var q = w.ToArray();
        Quantization.Quantize(q, [64, 64], bits: 8, perChannel: false);
        var step = w.Max(Math.Abs) / 127;
        Assert.All(w.Zip(q), p => Assert.True(Math.Abs(p.First - p.Second) <= step / 2 + 1e-6, $"{p.First} → {p.Second}"));
        Assert.True(q.Distinct().Count() <= 255);
    }

    [Fact]
    public void NoiseHasTheRequestedRelativeStandardDeviation()
    {
        var random = new Random(4);
        var w = Enumerable.Range(0, 20000).Select(_ => (float)(random.NextDouble() * 2)).ToArray();
        var noisy = w.ToArray();
        var sigma = GaussianNoise.Add(noisy, 0.5, seed: 9);
        var differences = w.Zip(noisy, (a, b) => (double)(b - a)).ToArray();
        var std = Math.Sqrt(differences.Select(d => d * d).Average());
        Assert.InRange(std / sigma, 0.97, 1.03);
        Assert.InRange(sigma, 0.5 * 0.55, 0.5 * 0.6); // std of U(0, 2) is 2/√12 ≈ 0.577
        var again = w.ToArray();
        GaussianNoise.Add(again, 0.5, seed: 9);
        Assert.Equal(noisy, again);
    }

    [Fact]
    public void ApplyReordersTheChosenAxis()
    {
        float[] w = [0, 1, 2, 10, 11, 12];
        Assert.Equal([10f, 11, 12, 0, 1, 2], ChannelPermutation.Apply(w, [2, 3], 0, [1, 0]));
        Assert.Equal([2f, 0, 1, 12, 10, 11], ChannelPermutation.Apply(w, [2, 3], 1, [2, 0, 1]));
        Assert.Throws<ArgumentException>(() => ChannelPermutation.Apply(w, [2, 3], 1, [1, 0]));
    }

    [Fact]
    public void ApplyScalesTheChosenAxis()
    {
        float[] w = [1, 2, 3, 10, 20, 30];
        ChannelScaling.Apply(w, [2, 3], 0, [2f, 0.5f]);
        Assert.Equal([2f, 4, 6, 5, 10, 15], w);
        ChannelScaling.Apply(w, [2, 3], 1, [2f, 4f, 0.5f], divide: true);
        Assert.Equal([1f, 1, 12, 2.5f, 2.5f, 30], w);
        Assert.Throws<ArgumentException>(() => ChannelScaling.Apply(w, [2, 3], 1, [1f, 2f]));
        Assert.Throws<ArgumentException>(() => ChannelScaling.Apply(w, [2, 3], 0, [1f, -2f]));
    }

    [Fact]
    public void FactorsAreLogUniformInTheRangeAndRepeatFromTheSeed()
    {
        var factors = ChannelScaling.Random(10_000, 20, seed: 3);
        Assert.All(factors, f => Assert.InRange(f, 1 / 20f, 20f));
        Assert.InRange(factors.Average(f => Math.Log(f)), -0.05, 0.05);
        Assert.InRange(factors.Count(f => f > 1), 4_800, 5_200);
        Assert.Equal(factors, ChannelScaling.Random(10_000, 20, seed: 3));
        Assert.NotEqual(factors, ChannelScaling.Random(10_000, 20, seed: 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => ChannelScaling.Random(4, 0.5, seed: 3));
    }
}
