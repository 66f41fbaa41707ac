using System;
using System.Collections.Generic;
using System.Linq;
using Xunit;

namespace Watermark.Tests;

public class BchCodeTests
{
    // Generator polynomials in octal, from Lin & Costello, "Error Control Coding", Appendix C (built on the
    // same primitive polynomials): (n, k, t, g).
    [Theory]
    [InlineData(7, 4, 1, "13")]
    [InlineData(15, 11, 1, "23")]
    [InlineData(15, 7, 2, "721")]
    [InlineData(15, 5, 3, "2467")]
    [InlineData(31, 26, 1, "45")]
    [InlineData(31, 21, 2, "3551")]
    [InlineData(31, 16, 3, "107657")]
    [InlineData(31, 11, 5, "5423325")]
    [InlineData(31, 6, 7, "313365047")]
    [InlineData(63, 57, 1, "103")]
    [InlineData(63, 51, 2, "12471")]
    [InlineData(63, 45, 3, "1701317")]
    [InlineData(127, 120, 1, "211")]
    [InlineData(127, 113, 2, "41567")]
    [InlineData(255, 247, 1, "435")]
    [InlineData(255, 239, 2, "267543")]
    public void GeneratorsAreThePublishedOnes(int n, int k, int t, string octal)
    {
        var code = BchCode.FromLengths(n, k);
        Assert.Equal(t, code.CorrectableErrors);
        Assert.Equal(n, code.Length);
        var g = code.GeneratorPolynomial();
        var value = g.Select((bit, i) => bit ? System.Numerics.BigInteger.One << i : 0).Aggregate(System.Numerics.BigInteger.Zero, (a, b) => a | b);
        Assert.Equal(octal, ToOctal(value));
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(10)]
    [InlineData(11)]
    [InlineData(12)]
    public void TheFieldPolynomialsArePrimitive(int m)
    {
        // x has order 2^m − 1 modulo the polynomial.
        var p = BchCode.PrimitivePolynomial(m);
        var x = 1;
        for (var i = 1; i <= (1 << m) - 1; i++)
        {
            x <<= 1;
            if ((x & (1 << m)) != 0)
            {
                x ^= p;
            }

            Assert.True(x != 1 || i == (1 << m) - 1, $"x^{i} = 1 before 2^{m} − 1");
        }

        Assert.Equal(1, x);
    }

    [Theory]
    [InlineData(15, 7)]
    [InlineData(15, 5)]
    [InlineData(15, 11)]
    [InlineData(7, 4)]
    public void ExhaustivelyEveryMessageWithEveryCorrectableErrorPatternDecodesExactly(int n, int k)
    {
        var code = BchCode.FromLengths(n, k);
        var t = code.CorrectableErrors;
        var patterns = Subsets(n, t).ToList();
        for (var value = 0; value < 1 << k; value++)
        {
            var message = Enumerable.Range(0, k).Select(i => ((value >> i) & 1) == 1).ToArray();
            var codeword = code.Encode(message);
            foreach (var errors in patterns)
            {
                var received = (bool[])codeword.Clone();
                foreach (var e in errors)
                {
                    received[e] = !received[e];
                }

                var decoded = code.Decode(received);
                Assert.True(decoded.Success, $"{code}: message {value}, errors at {string.Join(",", errors)} refused");
                Assert.Equal(message, decoded.Message);
                Assert.Equal(errors.Count, decoded.Corrected);
            }
        }
    }

    [Theory]
    [InlineData(15, 7)]
    [InlineData(15, 5)]
    [InlineData(31, 16)]
    public void ExhaustivelyOneErrorTooManyIsNeverTakenForTheSentMessage(int n, int k)
    {
        // Beyond t, bounded-distance decoding either refuses or lands on another codeword; it can never
        // return the sent message (that would need ≤ t errors), and what it returns is a codeword.
        var code = BchCode.FromLengths(n, k);
        var message = Enumerable.Range(0, k).Select(i => i % 3 == 0).ToArray();
        var codeword = code.Encode(message);
        foreach (var errors in Subsets(n, code.CorrectableErrors + 1).Where(s => s.Count == code.CorrectableErrors + 1))
        {
            var received = (bool[])codeword.Clone();
            foreach (var e in errors)
            {
                received[e] = !received[e];
            }

            var decoded = code.Decode(received);
            if (decoded.Success)
            {
                Assert.NotEqual(message, decoded.Message);
                var other = code.Encode(decoded.Message);
                Assert.True(Distance(other, received) <= code.CorrectableErrors);
            }
        }
    }

    public static TheoryData<int> Slots => new() { 64, 128, 256, 512, 1024 };

    [Theory]
    [MemberData(nameof(Slots))]
    public void EveryCodeOfferedCorrectsTErrorsAndNeverReturnsTheMessageAtTPlusOne(int bits)
    {
        // Every code the automatic choice offers for this T, one per message length in bytes.
        var random = new Random(bits);
        for (var bytes = 1; bytes * 8 < bits; bytes++)
        {
            if (BchCode.Choose(bytes * 8, bits) is not { } code)
            {
                Assert.True(bits - (bytes * 8) < 10, $"no code for {bytes} bytes in {bits} bits");
                continue;
            }

            Assert.True(code.Length <= bits);
            Assert.Equal(bytes * 8, code.MessageLength);
            for (var trial = 0; trial < 3; trial++)
            {
                var message = Enumerable.Range(0, code.MessageLength).Select(_ => random.Next(2) == 1).ToArray();
                var codeword = code.Encode(message);
                foreach (var errors in new[] { 0, code.CorrectableErrors, code.CorrectableErrors + 1 })
                {
                    var received = (bool[])codeword.Clone();
                    foreach (var e in Enumerable.Range(0, code.Length).OrderBy(_ => random.Next()).Take(errors))
                    {
                        received[e] = !received[e];
                    }

                    var decoded = code.Decode(received);
                    if (errors <= code.CorrectableErrors)
                    {
                        Assert.True(decoded.Success, $"{code}: {errors} errors refused");
                        Assert.Equal(message, decoded.Message);
                        Assert.Equal(errors, decoded.Corrected);
                    }
                    else
                    {
                        Assert.False(decoded.Success && decoded.Message!.SequenceEqual(message), $"{code}: {errors} errors read back as the sent message");
                    }
                }
            }
        }
    }

    [Fact]
    public void TheAutomaticChoiceIsTheStrongestThatFits()
    {
        // 20 bytes of text in 256 bits: BCH(255, 163) shortened to (252, 160) corrects 12 errors.
        var code = BchCode.Choose(160, 256)!;
        Assert.Equal(8, code.FieldDegree);
        Assert.Equal(252, code.Length);
        Assert.Equal(12, code.CorrectableErrors);
        Assert.Equal("bch:252,160", code.Name);
        Assert.Null(BchCode.Choose(256, 256));
        Assert.Equal(code, BchCode.FromLengths(252, 160));
    }

    [Fact]
    public void RandomWordsAreAlmostAlwaysRefused()
    {
        // A model that never carried the code reads back as a random word: decoding must refuse rather
        // than produce a "valid" message. For BCH(252, 160), t = 12, the chance of a random word landing
        // within 12 bits of a codeword is V(252, 12) / 2^92 ≈ 4e-8.
        var code = BchCode.Choose(160, 256)!;
        var random = new Random(5);
        var accepted = 0;
        for (var i = 0; i < 2000; i++)
        {
            var word = Enumerable.Range(0, code.Length).Select(_ => random.Next(2) == 1).ToArray();
            accepted += code.Decode(word).Success ? 1 : 0;
        }

        Assert.Equal(0, accepted);
    }

    [Fact]
    public void BadParametersAreRefusedWithTheReason()
    {
        Assert.Contains("no binary BCH code", Assert.Throws<ArgumentException>(() => BchCode.FromLengths(200, 199)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => BchCode.FromLengths(100, 100));
        Assert.Throws<ArgumentOutOfRangeException>(() => BchCode.Create(13, 1, 8));
        Assert.Throws<ArgumentException>(() => BchCode.Create(4, 2, 8)); // (15, 7) cannot carry 8 bits
        Assert.Throws<ArgumentException>(() => BchCode.Choose(160, 256)!.Encode(new bool[8]));
        Assert.Throws<ArgumentException>(() => BchCode.Choose(160, 256)!.Decode(new bool[256]));
    }

    private static IEnumerable<List<int>> Subsets(int n, int most)
    {
        var current = new List<int>();
        IEnumerable<List<int>> Walk(int start)
        {
            yield return [.. current];
            if (current.Count == most)
            {
                yield break;
            }

            for (var i = start; i < n; i++)
            {
                current.Add(i);
                foreach (var subset in Walk(i + 1))
                {
                    yield return subset;
                }

                current.RemoveAt(current.Count - 1);
            }
        }

        return Walk(0);
    }

    private static int Distance(bool[] a, bool[] b) => a.Zip(b).Count(p => p.First != p.Second);

    private static string ToOctal(System.Numerics.BigInteger value)
    {
        var digits = new List<char>();
        while (value > 0)
        {
            digits.Insert(0, (char)('0' + (int)(value % 8)));
            value /= 8;
        }

        return new string([.. digits]);
    }
}
