using System;
using System.Linq;
using Xunit;

namespace Watermark.Tests;

public class ExtractorTests
{
    [Fact]
    public void FilterMeanAveragesOverFiltersInCOrder()
    {
        // Two filters of shape [1, 2, 2]: w = elementwise mean.
        float[] weight = [1, 2, 3, 4, 3, 6, 9, 12];
        Assert.Equal([2.0, 4.0, 6.0, 8.0], FilterMean.Compute(weight, [2, 1, 2, 2]));
        Assert.Throws<ArgumentException>(() => FilterMean.Compute(weight, [3, 1, 2, 2]));
    }

    [Fact]
    public void WeightsChosenForTheKeyVerifyAndOthersDoNot()
    {
        var key = WatermarkKey.Create("c.weight", [4, 300], 128, KeyKind.Random, Message.FromText("ACME"), 0.01, null, false, TestSeeds.Numbered(7));
        // w = Xᵀ(2b − 1) puts every projection on the right side (rows of X are nearly orthogonal).
        var x = key.ProjectionMatrix().ToArray();
        var b = key.TargetBits().ToArray();
        var w = new double[300];
        for (var j = 0; j < 128; j++)
        {
            for (var i = 0; i < 300; i++)
            {
                w[i] += x[(j * 300) + i] * (b[j] ? 1 : -1);
            }
        }

        var weight = Enumerable.Range(0, 4 * 300).Select(i => (float)w[i % 300]).ToArray();
        var marked = Extractor.Extract(key, weight, [4, 300]);
        Assert.True(marked.Matched >= 120, marked.ToString());
        Assert.True(marked.PValue.IsAtMost(1e-20));
        Assert.Equal("ACME", System.Text.Encoding.UTF8.GetString(Message.Recover(marked.MessageBits.AsSpan(), 4)));

        var other = WatermarkKey.Create("c.weight", [4, 300], 128, KeyKind.Random, Message.FromText("ACME"), 0.01, null, false, TestSeeds.Numbered(8));
        var unmarked = Extractor.Extract(other, weight, [4, 300]);
        Assert.InRange(unmarked.BitErrorRate, 0.3, 0.7);
        Assert.False(new VerificationResult([unmarked]).IsPresent);
    }

    [Theory]
    [InlineData(4, 300, 128)]
    [InlineData(3, 7, 5)]
    [InlineData(64, 576, 256)]
    [InlineData(2, 33, 19)]
    public void VectorisedMeansAndProjectionsEqualTheScalarSumsToTheBit(int filters, int m, int bits)
    {
        // The vectors run across entries (w_i) and across bits (y_j), never along one sum, so every sum keeps
        // the scalar loop's order of additions: the same doubles on every machine, whatever its vector width.
        var key = WatermarkKey.Create("c.weight", [filters, m], bits, KeyKind.Random, Message.AllOnes, 0.01, null, allowOverCapacity: true, TestSeeds.Numbered(9));
        var random = new Random(3);
        var weight = Enumerable.Range(0, filters * m).Select(_ => (float)(random.NextDouble() - 0.5) * (float)Math.Pow(10, random.Next(-6, 3))).ToArray();
        var w = new double[m];
        for (var l = 0; l < filters; l++)
        {
            for (var i = 0; i < m; i++)
            {
                w[i] += weight[(l * m) + i];
            }
        }

        for (var i = 0; i < m; i++)
        {
            w[i] /= filters;
        }

        var x = key.ProjectionMatrix().ToArray();
        var y = new double[bits];
        for (var j = 0; j < bits; j++)
        {
            for (var i = 0; i < m; i++)
            {
                y[j] += x[(j * m) + i] * w[i];
            }
        }

        var mean = FilterMean.Compute(weight, [filters, m]);
        Assert.Equal(w.Select(BitConverter.DoubleToInt64Bits), mean.Select(BitConverter.DoubleToInt64Bits));
        // The first projection with a key reads X by row, later ones by column (vectors across bits): both exact.
        Assert.Equal(y.Select(BitConverter.DoubleToInt64Bits), Extractor.Extract(key, weight, [filters, m]).Projection.Select(BitConverter.DoubleToInt64Bits));
        Assert.Equal(y.Select(BitConverter.DoubleToInt64Bits), Extractor.Extract(key, weight, [filters, m]).Projection.Select(BitConverter.DoubleToInt64Bits));
    }

    [Fact]
    public void NonFiniteWeightsAreRefusedWithTheSlotNamed()
    {
        var key = WatermarkKey.Create("c.weight", [2, 8], 4);
        var weight = new float[16];
        weight[5] = float.NaN;
        Assert.Contains("'c.weight'", Assert.Throws<WatermarkException>(() => Extractor.Extract(key, weight, [2, 8])).Message, StringComparison.Ordinal);
        weight[5] = float.PositiveInfinity;
        Assert.Contains("infinite", Assert.Throws<WatermarkException>(() => Extractor.Extract(key, weight, [2, 8])).Message, StringComparison.Ordinal);

        // Past the vectors' reach, and in the last value of a long weight: each is found, with its index.
        var wide = WatermarkKey.Create("d.weight", [3, 67], 8);
        foreach (var at in new[] { 0, 66, 100, 200 })
        {
            var values = new float[3 * 67];
            values[at] = float.NegativeInfinity;
            Assert.Contains($"index {at}", Assert.Throws<WatermarkException>(() => Extractor.Extract(wide, values, [3, 67])).Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void ShapeMismatchIsRefused()
    {
        var key = WatermarkKey.Create("c.weight", [2, 8], 4);
        var e = Assert.Throws<WatermarkException>(() => Extractor.Extract(key, new float[16], [4, 4]));
        Assert.Contains("[2, 8]", e.Message, StringComparison.Ordinal);
        Assert.Contains("[4, 4]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CombinedVerdictPoolsTheSlots()
    {
        var a = WatermarkKey.Create("a", [2, 64], 32, KeyKind.Random, null, 0.01, null, false, TestSeeds.Numbered(1));
        var b = WatermarkKey.Create("b", [2, 64], 32, KeyKind.Random, null, 0.01, null, false, TestSeeds.Numbered(2));
        var weight = Enumerable.Range(0, 128).Select(i => (float)Math.Sin(i)).ToArray();
        var result = new VerificationResult([Extractor.Extract(a, weight, [2, 64]), Extractor.Extract(b, weight, [2, 64])]);
        Assert.Equal(64, result.Bits);
        Assert.Equal(result.Slots.Sum(s => s.Matched), result.Matched);
        Assert.Equal(PValue.BinomialUpperTail(64, result.Matched), result.PValue);
        Assert.Throws<ArgumentOutOfRangeException>(() => new VerificationResult(result.Slots, alpha: 0));
    }
}
