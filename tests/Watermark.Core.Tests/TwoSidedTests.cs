using System;
using System.Linq;
using Xunit;

namespace Watermark.Tests;

public class TwoSidedTests
{
    [Fact]
    public void TheTwoSidedPValueIsTwiceTheSmallerTailAtMostOne()
    {
        var all = Result(256, 256);
        var none = Result(256, 0);
        Assert.False(none.IsPresent);
        Assert.True(none.WithTwoSidedTest().IsPresent);
        Assert.True(none.WithTwoSidedTest().IsInverted);
        Assert.Equal(all.PValue.NaturalLog + Math.Log(2), none.WithTwoSidedTest().PValue.NaturalLog, 9);
        Assert.Equal(all.PValue.NaturalLog + Math.Log(2), all.WithTwoSidedTest().PValue.NaturalLog, 9);
        Assert.False(all.WithTwoSidedTest().IsInverted);
        Assert.Equal(0.0, Result(256, 128).WithTwoSidedTest().PValue.NaturalLog);
        Assert.Equal(Result(256, 200).PValue.NaturalLog + Math.Log(2), Result(256, 200).WithTwoSidedTest().PValue.NaturalLog, 9);
        var inverted = none.WithTwoSidedTest();
        Assert.Same(inverted, inverted.WithTwoSidedTest());
        Assert.Contains("present, inverted: 0/256 bits", none.WithTwoSidedTest().ToString(), StringComparison.Ordinal);
        Assert.Contains("two-sided p", none.WithTwoSidedTest().ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(64, 0.05)]
    [InlineData(64, 0.001)]
    [InlineData(256, 0.01)]
    [InlineData(256, 1e-6)]
    public void UnderTheNullTheTwoSidedTestFlagsAtMostAlpha(int bits, double alpha)
    {
        // Exactly: the probability, over fair coins, of every count k the two-sided test calls present.
        var flagged = Enumerable.Range(0, bits + 1)
            .Where(k => Result(bits, k).WithTwoSidedTest().PValue.IsAtMost(alpha))
            .Sum(k => Math.Exp(LogChoose(bits, k) - (bits * Math.Log(2))));
        Assert.InRange(flagged, alpha / 4, alpha);
    }

    private static VerificationResult Result(int bits, int matched)
    {
        var key = WatermarkKey.Create("c.weight", [2, bits], bits, KeyKind.Random, Message.AllOnes, 0.01, null, allowOverCapacity: true, TestSeeds.Numbered(1));
        var target = key.TargetBits().ToArray();
        var extracted = target.Select((b, j) => j < matched ? b : !b).ToArray();
        return new VerificationResult([new SlotVerification(key, extracted, [.. extracted.Select(e => e ? 1.0 : -1.0)], matched)]);
    }

    private static double LogChoose(int n, int k)
    {
        var sum = 0.0;
        for (var i = 1; i <= k; i++)
        {
            sum += Math.Log(n - k + i) - Math.Log(i);
        }

        return sum;
    }
}
