using System;
using System.Linq;
using System.Security.Cryptography;
using Xunit;

namespace Watermark.Tests;

public class KeyMatrixTests
{
    private static WatermarkKey Golden(KeyKind kind, int bits = 256) =>
        WatermarkKey.Create("conv.weight", [64, 64, 3, 3], bits, kind, Message.FromText("ACME"), 0.01, null, false, TestSeeds.Counting());

    // Golden vectors of key derivation v1 (seed = bytes 0..31, T = 256, M = 576). If one of these
    // changes, every key file ever written would verify differently: never update them, version instead.
    [Theory]
    [InlineData(KeyKind.Random, "ade9ab700cd487e56fd5e81bc2c9910609a0b2ef420aef33419af710b2f69e74")]
    [InlineData(KeyKind.Direct, "f1c5421f7a083111d8e4799cdc0011576e68ce15a27b36bf8719785ea858c3d6")]
    [InlineData(KeyKind.Diff, "92af00a7d77ffef831069db5a03c80fb49b27b8b270bee725d814867690dc1cf")]
    public void FixedSeedGivesFixedMatrix(KeyKind kind, string sha256)
    {
        var x = Golden(kind).ProjectionMatrix().ToArray();
        var bytes = new byte[x.Length * 4];
        for (var i = 0; i < x.Length; i++)
        {
            BitConverter.TryWriteBytes(bytes.AsSpan(4 * i), BitConverter.SingleToUInt32Bits(x[i]));
        }

        Assert.Equal(sha256, Convert.ToHexStringLower(SHA256.HashData(bytes)));
    }

    [Fact]
    public void FixedSeedGivesFixedEntries()
    {
        var random = Golden(KeyKind.Random).ProjectionMatrix().ToArray();
        uint[] first = [0xbf9a5581, 0x3f29fd93, 0x3f2f38ba, 0xbe324426, 0xbf719662, 0xbe9baf6c, 0x3f47f20f, 0x3e84cb43];
        Assert.Equal(first, Enumerable.Range(0, 8).Select(i => BitConverter.SingleToUInt32Bits(random[i])).ToArray());

        var direct = WatermarkKey.Create("conv.weight", [8, 4, 3, 3], 16, KeyKind.Direct, Message.FromText("AC"), 0.01, null, false, TestSeeds.Counting());
        var directX = direct.ProjectionMatrix().ToArray();
        Assert.Equal([16, 40, 86, 117, 167, 191, 226, 252], Enumerable.Range(0, directX.Length).Where(i => directX[i] != 0).Take(8));

        var diff = WatermarkKey.Create("conv.weight", [8, 4, 3, 3], 16, KeyKind.Diff, Message.FromText("AC"), 0.01, null, false, TestSeeds.Counting());
        var diffX = diff.ProjectionMatrix().ToArray();
        Assert.Equal([22, 28, 42, 64, 77, 95, 123, 128], Enumerable.Range(0, diffX.Length).Where(i => diffX[i] != 0).Take(8));
    }

    [Fact]
    public void FixedSeedGivesFixedTargetBits()
    {
        var bits = string.Concat(Golden(KeyKind.Random).TargetBits().ToArray().Take(64).Select(b => b ? '1' : '0'));
        Assert.Equal("0101010101001011110101010100000100001101100011001010111101010101", bits);
    }

    [Fact]
    public void DirectRowsHaveOneDistinctColumnWhileTFits()
    {
        var key = WatermarkKey.Create("w", [4, 100], 99, KeyKind.Direct, null, 0.01, null, false, TestSeeds.Numbered(3));
        var x = key.ProjectionMatrix().ToArray();
        var columns = Enumerable.Range(0, 99).Select(row =>
        {
            var nonzero = Enumerable.Range(0, 100).Where(c => x[(row * 100) + c] != 0).ToArray();
            Assert.Single(nonzero);
            Assert.Equal(1f, x[(row * 100) + nonzero[0]]);
            return nonzero[0];
        }).ToArray();
        Assert.Equal(99, columns.Distinct().Count());
    }

    [Fact]
    public void DiffRowsHaveOnePlusAndOneMinus()
    {
        var key = WatermarkKey.Create("w", [4, 50], 40, KeyKind.Diff, null, 0.01, null, false, TestSeeds.Numbered(4));
        var x = key.ProjectionMatrix().ToArray();
        for (var row = 0; row < 40; row++)
        {
            var values = x.Skip(row * 50).Take(50).Where(v => v != 0).OrderBy(v => v).ToArray();
            Assert.Equal([-1f, 1f], values);
        }
    }

    [Fact]
    public void DifferentSeedsGiveDifferentKeysAndTheSameSeedTheSame()
    {
        var a = WatermarkKey.Create("w", [4, 64], 32, KeyKind.Random, null, 0.01, null, false, TestSeeds.Numbered(1));
        var b = WatermarkKey.Create("w", [4, 64], 32, KeyKind.Random, null, 0.01, null, false, TestSeeds.Numbered(2));
        var a2 = WatermarkKey.Create("w", [4, 64], 32, KeyKind.Random, null, 0.01, null, false, TestSeeds.Numbered(1));
        Assert.False(a.ProjectionMatrix().Span.SequenceEqual(b.ProjectionMatrix().Span));
        Assert.True(a.ProjectionMatrix().Span.SequenceEqual(a2.ProjectionMatrix().Span));
    }

    [Fact]
    public void GeneratedSeedsComeFromTheCsprngAndAreNeverPrinted()
    {
        var a = WatermarkKey.Create("w", [4, 64], 32);
        var b = WatermarkKey.Create("w", [4, 64], 32);
        Assert.NotEqual(a.Seed, b.Seed);
        Assert.DoesNotContain(a.Seed.ToHex(), a.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(a.Seed.ToHex(), a.Seed.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void CapacityRuleRefusesTAtOrAboveMUnlessAllowed()
    {
        var e = Assert.Throws<ArgumentException>(() => WatermarkKey.Create("conv2.weight", [64, 64, 3, 3], 600));
        Assert.Contains("Watermark of 600 bits does not fit 'conv2.weight'", e.Message, StringComparison.Ordinal);
        Assert.Contains("M = 576", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => WatermarkKey.Create("conv2.weight", [64, 64, 3, 3], 576));
        Assert.Equal(600, WatermarkKey.Create("conv2.weight", [64, 64, 3, 3], 600, allowOverCapacity: true).Bits);
    }

    [Theory]
    [InlineData(new long[] { 16, 8, 5 }, 40)]            // Conv1d [L, D, S]
    [InlineData(new long[] { 64, 64, 3, 3 }, 576)]       // Conv2d
    [InlineData(new long[] { 64, 16, 3, 3 }, 144)]       // Conv2d, groups = 4 of 64 input channels
    [InlineData(new long[] { 8, 4, 3, 3, 3 }, 108)]      // Conv3d
    [InlineData(new long[] { 10, 256 }, 256)]            // Linear [out, in]
    public void FilterMeanLengthFollowsTheShape(long[] shape, int m) => Assert.Equal(m, Capacity.FilterMeanLength(shape));

    [Theory]
    [InlineData(new long[] { 5 })]
    [InlineData(new long[] { 1, 2, 3, 4, 5, 6 })]
    [InlineData(new long[] { 4, 0, 3, 3 })]
    [InlineData(new long[] { 4, -1, 3, 3 })]
    public void BadShapesAreRefused(long[] shape) => Assert.Throws<ArgumentException>(() => Capacity.FilterMeanLength(shape));

    [Fact]
    public void BadArgumentsAreRefusedWithTheSlotNamed()
    {
        Assert.Contains("'c.weight'", Assert.Throws<ArgumentOutOfRangeException>(() => WatermarkKey.Create("c.weight", [4, 64], 0)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => WatermarkKey.Create("c.weight", [4, 64], 8, strength: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => WatermarkKey.Create("c.weight", [4, 64], 8, strength: double.NaN));
        Assert.Throws<ArgumentException>(() => WatermarkKey.Create("c.weight", [4, 64], 8, message: Message.FromText("too long")));
        Assert.Throws<ArgumentException>(() => WatermarkKey.Create("c.weight", [4, 1], 1, KeyKind.Diff, allowOverCapacity: true));
    }
}
