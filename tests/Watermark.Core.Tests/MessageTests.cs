using System;
using System.Linq;
using System.Text;
using Xunit;

namespace Watermark.Tests;

public class MessageTests
{
    private static string Bits(bool[] bits) => string.Concat(bits.Select(b => b ? '1' : '0'));

    [Fact]
    public void BytesBecomeBitsMostSignificantFirstAndRepeatCyclically()
    {
        var message = Message.FromBytes([0xA5, 0x01]);
        Assert.Equal("1010010100000001" + "10100101", Bits(message.ToBits(24)));
    }

    [Fact]
    public void TextIsNormalizedUtf8()
    {
        var composed = Message.FromText("é");
        var decomposed = Message.FromText("e\u0301");
        Assert.Equal(composed, decomposed);
        Assert.Equal(new byte[] { 0xC3, 0xA9 }, composed.Bytes.ToArray());
    }

    [Fact]
    public void AllOnesFillsAnyLength() => Assert.All(Message.AllOnes.ToBits(300), b => Assert.True(b));

    [Fact]
    public void TooLongAndEmptyMessagesAreRefused()
    {
        Assert.Throws<ArgumentException>(() => Message.FromText("ABC").ToBits(16));
        Assert.Throws<ArgumentException>(() => Message.FromText(string.Empty));
        Assert.Throws<ArgumentException>(() => Message.FromBytes([]));
    }

    [Fact]
    public void RecoverTakesAMajorityOverRepetitions()
    {
        var message = Message.FromText("Owner: ACME");
        var bits = message.ToBits(256);
        // 88 message bits in 256: bits 0–79 repeat 3 times, 80–87 twice. Flip the first copy of
        // bits 0–79 (31% of all bits): each keeps a 2-of-3 majority.
        for (var j = 0; j < 80; j++)
        {
            bits[j] = !bits[j];
        }

        Assert.Equal("Owner: ACME", Encoding.UTF8.GetString(Message.Recover(bits, message.Bytes.Length)));
    }

    [Fact]
    public void WhiteningMaskIsBalancedAndUndoneByTheKey()
    {
        var key = WatermarkKey.Create("w", [8, 4096], 4000, KeyKind.Random, Message.AllOnes, 0.01, Whitening.KeyedMask, false, TestSeeds.Numbered(5));
        var target = key.TargetBits().ToArray();
        Assert.InRange(target.Count(b => b), 2000 - 190, 2000 + 190); // ±6 sd of Binomial(4000, ½)
        Assert.All(key.ToMessageBits(target), b => Assert.True(b));

        var paper = WatermarkKey.Create("w", [8, 4096], 4000, KeyKind.Random, Message.AllOnes, 0.01, null, false, TestSeeds.Numbered(5));
        Assert.Equal(Whitening.None, paper.Whitening);
        Assert.All(paper.TargetBits().ToArray(), b => Assert.True(b));
    }
}
