using System;
using System.Globalization;
using System.Numerics;
using Xunit;

namespace Watermark.Tests;

public class PValueTests
{
    // ln P[Bin(T,½) ≥ k] from exact integer arithmetic: ln(Σ_{i≥k} C(T,i)) − T ln 2.
    private static double ExactLogTail(int trials, int k)
    {
        var sum = BigInteger.Zero;
        var c = BigInteger.One; // C(T, 0)
        for (var i = 0; i <= trials; i++)
        {
            if (i >= k)
            {
                sum += c;
            }

            c = c * (trials - i) / (i + 1);
        }

        return BigInteger.Log(sum) - (trials * Math.Log(2));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 0)]
    [InlineData(10, 5)]
    [InlineData(10, 9)]
    [InlineData(256, 128)]
    [InlineData(256, 129)]
    [InlineData(256, 100)]
    [InlineData(256, 166)]
    [InlineData(256, 179)]
    [InlineData(256, 256)]
    [InlineData(1024, 700)]
    [InlineData(8192, 4096)]
    [InlineData(8192, 4500)]
    [InlineData(8192, 8000)]
    [InlineData(8192, 8192)]
    [InlineData(8192, 10)]
    public void MatchesExactBinomialTail(int trials, int k)
    {
        var expected = k <= 0 ? 0.0 : ExactLogTail(trials, k);
        var actual = PValue.BinomialUpperTail(trials, k).NaturalLog;
        Assert.True(Math.Abs(actual - expected) <= 1e-10 * Math.Max(1, Math.Abs(expected)), $"T={trials}, k={k}: ln p {actual:R} vs exact {expected:R}");
    }

    [Fact]
    public void SmallCasesByHand()
    {
        Assert.Equal(0.5, PValue.BinomialUpperTail(1, 1).Value, 15);
        Assert.Equal(11.0 / 1024, PValue.BinomialUpperTail(10, 9).Value, 15);
        Assert.Equal(1.0, PValue.BinomialUpperTail(10, 0).Value);
        Assert.Equal(0.0, PValue.BinomialUpperTail(10, 11).Value);
    }

    [Fact]
    public void ExtremeTailsPrintTheirExponentInsteadOfZero()
    {
        var p = PValue.BinomialUpperTail(8192, 8192);
        Assert.Equal(0.0, p.Value); // below double's range…
        Assert.Equal(-8192 * Math.Log10(2), p.Log10, 9);
        Assert.Equal("9.17e-2467", p.ToString()); // …but exact in log space: 2^−8192 = 9.17e−2467
        Assert.Equal("8.64e-78", PValue.BinomialUpperTail(256, 256).ToString());
        Assert.Equal("0.525", PValue.BinomialUpperTail(256, 128).ToString());
        Assert.Equal("0.001", PValue.FromNaturalLog(Math.Log(0.001)).ToString());
        Assert.Equal("9.99e-4", PValue.FromNaturalLog(Math.Log(0.000999)).ToString()); // never "0"
        Assert.Equal("2.63e-4", PValue.FromNaturalLog(Math.Log(2.634e-4)).ToString());
        Assert.Equal("0.0123", PValue.FromNaturalLog(Math.Log(0.01234)).ToString());
    }

    [Fact]
    public void DecisionIsMadeInLogSpace()
    {
        Assert.True(PValue.BinomialUpperTail(8192, 8192).IsAtMost(1e-300));
        Assert.False(PValue.BinomialUpperTail(256, 140).IsAtMost(1e-6));
        Assert.True(PValue.BinomialUpperTail(256, 179).IsAtMost(1e-6));
        Assert.Throws<ArgumentOutOfRangeException>(() => PValue.BinomialUpperTail(10, 5).IsAtMost(0));
        Assert.Equal("0.525", string.Format(CultureInfo.GetCultureInfo("de-DE"), "{0}", PValue.BinomialUpperTail(256, 128)));
    }
}
