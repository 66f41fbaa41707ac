using System;
using System.Linq;
using Watermark.Attacks;
using Xunit;

namespace Watermark.Tests;

public class BatchNormFoldingTests
{
    [Fact]
    public void ScalingAndFlippingFiltersThroughTheBatchNormLeaveTheFoldedWeight()
    {
        var random = new Random(5);
        long[] shape = [6, 2, 3, 3];
        var weight = Enumerable.Range(0, 6 * 18).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var gamma = Enumerable.Range(0, 6).Select(_ => (float)(0.5 + random.NextDouble())).ToArray();
        var mean = Enumerable.Range(0, 6).Select(_ => (float)random.NextDouble()).ToArray();
        var variance = Enumerable.Range(0, 6).Select(_ => (float)(0.01 + random.NextDouble())).ToArray();
        var before = BatchNormFolding.Fold(weight, shape, gamma, variance);

        var factors = BatchNormAbsorption.Feasible(ChannelScaling.Random(6, 20, 3), variance);
        var flipped = SignFlip.Random(6, 0.5, 4);
        ChannelScaling.Apply(weight, shape, 0, factors);
        BatchNormAbsorption.AbsorbScale(mean, variance, factors);
        SignFlip.Apply(weight, shape, 0, flipped);
        BatchNormAbsorption.AbsorbFlip(gamma, mean, flipped);
        Assert.Contains(flipped, f => f);
        Assert.NotEqual(before, BatchNormFolding.Fold(weight, shape, [.. gamma.Select(Math.Abs)], variance));

        // Equal up to float rounding of the scaled weights and variances.
        var after = BatchNormFolding.Fold(weight, shape, gamma, variance);
        Assert.All(before.Zip(after), p => Assert.Equal(p.First, p.Second, 1e-5));
    }

    [Fact]
    public void ABatchNormThatDoesNotFitIsRefused()
    {
        var weight = new float[2 * 4];
        Assert.Throws<ArgumentException>(() => BatchNormFolding.Fold(weight, [2, 4], [1f], [1f, 1f]));
        Assert.Throws<ArgumentException>(() => BatchNormFolding.Fold(weight, [2, 4], [1f, 1f], [1f, -1f]));
        Assert.Throws<ArgumentException>(() => BatchNormFolding.Fold(weight, [2, 4], [1f, float.NaN], [1f, 1f]));
        Assert.Throws<ArgumentOutOfRangeException>(() => BatchNormFolding.Fold(weight, [2, 4], [1f, 1f], [1f, 1f], -1));
        Assert.Equal([0.5f, 0.5f, 0.5f, 0.5f, -2f, -2f, -2f, -2f], BatchNormFolding.Fold([1, 1, 1, 1, 1, 1, 1, 1], [2, 4], [1f, -4f], [4f - 1e-5f, 4f - 1e-5f]));
    }
}
