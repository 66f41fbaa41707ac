using System;
using System.Linq;
using Xunit;

namespace Watermark.Tests;

public class KeyStreamTests
{
    [Fact]
    public void ChaCha20BlockMatchesRfc8439TestVector()
    {
        // RFC 8439 §2.3.2: key 00..1f, nonce 00:00:00:09:00:00:00:4a:00:00:00:00, block counter 1.
        var key = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        var stream = new KeyStream(key, nonce0: 0x09000000, nonce1: 0x4a000000, nonce2: 0, counter: 1);
        var block = new uint[16];
        stream.NextBlock(block);
        uint[] expected =
        [
            0xe4e7f110, 0x15593bd1, 0x1fdd0f50, 0xc47120a3, 0xc7f4d1c7, 0x0368c033, 0x9aaa2204, 0x4e6cd4c3,
            0x466482d2, 0x09aa9f07, 0x05d7c214, 0xa2028bd9, 0xd19c12b5, 0xb94e16de, 0xe883d0cb, 0x4e3c50a2,
        ];
        Assert.Equal(expected, block);
    }

    [Fact]
    public void PurposesGiveIndependentStreams()
    {
        var seed = TestSeeds.Counting();
        var matrix = new KeyStream(seed, KeyStream.Purpose.KeyMatrix);
        var mask = new KeyStream(seed, KeyStream.Purpose.WhiteningMask);
        Assert.NotEqual(matrix.NextUInt64(), mask.NextUInt64());
    }

    [Fact]
    public void BoundedIntegersAreUniformAndInRange()
    {
        var stream = new KeyStream(TestSeeds.Counting(), KeyStream.Purpose.KeyMatrix);
        var counts = new int[7];
        for (var i = 0; i < 70_000; i++)
        {
            counts[stream.NextBelow(7)]++;
        }

        // Each cell ~ Binomial(70000, 1/7): mean 10000, sd ≈ 92; 6 sd is never crossed by a fair stream.
        Assert.All(counts, c => Assert.InRange(c, 10_000 - 550, 10_000 + 550));
    }

    [Fact]
    public void NormalsHaveUnitMomentsAndGaussianTails()
    {
        var stream = new KeyStream(TestSeeds.Counting(), KeyStream.Purpose.KeyMatrix);
        const int n = 200_000;
        double sum = 0, squares = 0;
        var beyond2 = 0;
        for (var i = 0; i < n / 2; i++)
        {
            var (a, b) = stream.NextNormalPair();
            sum += a + b;
            squares += (a * a) + (b * b);
            beyond2 += (Math.Abs(a) > 2 ? 1 : 0) + (Math.Abs(b) > 2 ? 1 : 0);
        }

        Assert.InRange(sum / n, -0.015, 0.015);
        Assert.InRange(squares / n, 0.98, 1.02);
        Assert.InRange(beyond2 / (double)n, 0.0455 - 0.003, 0.0455 + 0.003);
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.5)]
    [InlineData(2.0)]
    [InlineData(1e-300)]
    [InlineData(0.999999999)]
    [InlineData(1.41421356)]
    [InlineData(1.41421357)]
    [InlineData(123456.789)]
    public void DeterministicLogAgreesWithLibm(double x)
    {
        var expected = Math.Log(x);
        var actual = DeterministicMath.Log(x);
        Assert.True(Math.Abs(actual - expected) <= 4 * Math.Max(Math.BitIncrement(Math.Abs(expected)) - Math.Abs(expected), double.Epsilon),
            $"ln {x}: {actual:R} vs {expected:R}");
    }

    [Fact]
    public void DeterministicLogAgreesWithLibmAcrossUniforms()
    {
        var stream = new KeyStream(TestSeeds.Counting(), KeyStream.Purpose.KeyMatrix);
        for (var i = 0; i < 100_000; i++)
        {
            var u = stream.NextUniform();
            if (u == 0)
            {
                continue;
            }

            Assert.True(Math.Abs(DeterministicMath.Log(u) - Math.Log(u)) <= 1e-15 * Math.Max(1, Math.Abs(Math.Log(u))), $"ln {u:R}");
        }
    }

    [Fact]
    public void DeterministicLogRejectsNonPositive()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => DeterministicMath.Log(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => DeterministicMath.Log(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => DeterministicMath.Log(double.NaN));
    }
}
