using System;
using System.Collections.Generic;

namespace Watermark;

/// <summary>
/// A binary BCH code (primitive, narrow-sense, over GF(2^m)), shortened to carry exactly the owner's
/// message: <see cref="MessageLength"/> K message bits and <see cref="Length"/> − K parity bits correct
/// up to <see cref="CorrectableErrors"/> t wrong bits anywhere in the <see cref="Length"/> N bits, and
/// decoding refuses — never guesses — when more are wrong than the code can locate.
/// </summary>
/// <remarks>
/// Rules (part of the key file, scheme <c>bch-v1</c>; see docs/key-derivation.md): GF(2^m) is built on
/// the primitive polynomial of <see cref="PrimitivePolynomial"/> (Lin &amp; Costello's table); the
/// generator g(x) is the least common multiple of the minimal polynomials of α, α², …, α^{2t}; t is the
/// largest designed distance that gives this g. Codewords are systematic: the K message bits, then the
/// N − K coefficients of m(x)·x^{N−K} mod g(x), highest degree first. Shortening drops leading zero
/// message bits, which are never sent. Decoding: syndromes, Berlekamp–Massey, Chien search; a locator
/// whose degree exceeds t, or whose roots do not all fall inside the N sent positions, is refused.
/// </remarks>
public sealed class BchCode : IEquatable<BchCode>
{
    /// <summary>The smallest field degree m offered (codes of length up to 7).</summary>
    public const int MinFieldDegree = 3;

    /// <summary>The largest field degree m offered (codes of length up to 4,095).</summary>
    public const int MaxFieldDegree = 12;

    // Primitive polynomials, index m (bit i = coefficient of x^i), as in Lin & Costello, Table 2.7.
    private static readonly int[] Primitive = [0, 0, 0, 0xB, 0x13, 0x25, 0x43, 0x89, 0x11D, 0x211, 0x409, 0x805, 0x1053];

    private readonly int[] exp;
    private readonly int[] log;
    private readonly int order;
    private readonly bool[] generator;

    private BchCode(int m, int t, int messageBits, bool[] generator)
    {
        FieldDegree = m;
        CorrectableErrors = t;
        MessageLength = messageBits;
        this.generator = generator;
        Length = messageBits + generator.Length - 1;
        order = (1 << m) - 1;
        (exp, log) = Field(m);
    }

    /// <summary>m: the code works in GF(2^m); the unshortened length is 2^m − 1.</summary>
    public int FieldDegree { get; }

    /// <summary>N: the codeword's length in bits (message and parity).</summary>
    public int Length { get; }

    /// <summary>K: the message bits a codeword carries.</summary>
    public int MessageLength { get; }

    /// <summary>t: how many wrong bits anywhere in a codeword are always corrected.</summary>
    public int CorrectableErrors { get; }

    /// <summary>N − K: the parity bits.</summary>
    public int ParityLength => Length - MessageLength;

    /// <summary>The CLI's name for the code, e.g. <c>bch:252,160</c>.</summary>
    public string Name => $"bch:{Length},{MessageLength}";

    /// <summary>The primitive polynomial of GF(2^<paramref name="m"/>) the rules fix (bit i = coefficient of x^i).</summary>
    public static int PrimitivePolynomial(int m)
    {
        CheckDegree(m);
        return Primitive[m];
    }

    /// <summary>
    /// The code over GF(2^<paramref name="m"/>) that corrects <paramref name="t"/> errors, shortened to carry
    /// <paramref name="messageBits"/> bits. t is raised to the largest designed distance with the same
    /// generator (e.g. m = 5, t = 4 is the t = 5 code).
    /// </summary>
    public static BchCode Create(int m, int t, int messageBits)
    {
        CheckDegree(m);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(t);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(messageBits);
        var degrees = ParityDegrees(m);
        if (t >= degrees.Count || degrees[t] + messageBits > (1 << m) - 1)
        {
            throw new ArgumentException($"No BCH code over GF(2^{m}) corrects {t} errors in a message of {messageBits} bits: the codeword would exceed {(1 << m) - 1} bits.", nameof(t));
        }

        var r = degrees[t];
        while (t + 1 < degrees.Count && degrees[t + 1] == r)
        {
            t++;
        }

        return new BchCode(m, t, messageBits, Generator(m, t));
    }

    /// <summary>
    /// The code of length <paramref name="length"/> N carrying <paramref name="messageBits"/> K bits (the CLI's
    /// <c>bch:N,K</c>): the smallest field whose BCH codes have exactly N − K parity bits for some t.
    /// </summary>
    public static BchCode FromLengths(int length, int messageBits)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(messageBits);
        if (length <= messageBits)
        {
            throw new ArgumentException($"bch:{length},{messageBits}: the length N must exceed the message bits K, leaving N − K parity bits.", nameof(length));
        }

        for (var m = MinFieldDegree; m <= MaxFieldDegree; m++)
        {
            if (length > (1 << m) - 1)
            {
                continue;
            }

            var degrees = ParityDegrees(m);
            var t = degrees.IndexOf(length - messageBits);
            if (t > 0)
            {
                return Create(m, t, messageBits);
            }
        }

        throw new ArgumentException($"bch:{length},{messageBits}: no binary BCH code of length up to {(1 << MaxFieldDegree) - 1} has exactly {length - messageBits} parity bits; 'watermark keygen --ecc auto' picks the strongest code that fits.", nameof(length));
    }

    /// <summary>
    /// The strongest code (most correctable errors; then the shortest, then the smallest field) that carries
    /// <paramref name="messageBits"/> bits in at most <paramref name="bits"/> bits; null when even t = 1 does not fit.
    /// </summary>
    public static BchCode? Choose(int messageBits, int bits)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(messageBits);
        (int M, int T, int Length)? best = null;
        for (var m = MinFieldDegree; m <= MaxFieldDegree; m++)
        {
            var degrees = ParityDegrees(m);
            for (var t = 1; t < degrees.Count; t++)
            {
                var length = messageBits + degrees[t];
                if (length > (1 << m) - 1 || length > bits)
                {
                    break;
                }

                if (best is not { } b || t > b.T || (t == b.T && length < b.Length))
                {
                    best = (m, t, length);
                }
            }
        }

        return best is { } chosen ? Create(chosen.M, chosen.T, messageBits) : null;
    }

    /// <summary>The N-bit codeword of a K-bit message: the message, then its parity bits.</summary>
    public bool[] Encode(ReadOnlySpan<bool> message)
    {
        if (message.Length != MessageLength)
        {
            throw new ArgumentException($"{this} encodes {MessageLength} message bits; {message.Length} were given.", nameof(message));
        }

        var r = ParityLength;
        var remainder = new bool[r]; // remainder[j] = coefficient of x^j
        foreach (var bit in message)
        {
            var feedback = bit ^ remainder[r - 1];
            for (var j = r - 1; j > 0; j--)
            {
                remainder[j] = remainder[j - 1] ^ (feedback && generator[j]);
            }

            remainder[0] = feedback && generator[0];
        }

        var codeword = new bool[Length];
        message.CopyTo(codeword);
        for (var i = 0; i < r; i++)
        {
            codeword[MessageLength + i] = remainder[r - 1 - i];
        }

        return codeword;
    }

    /// <summary>
    /// Corrects up to t wrong bits of an N-bit word and returns its message; refuses (Success false, no
    /// message) when the errors cannot be located, which a word with more than t errors usually causes.
    /// </summary>
    public BchDecoding Decode(ReadOnlySpan<bool> received)
    {
        if (received.Length != Length)
        {
            throw new ArgumentException($"{this} decodes words of {Length} bits; {received.Length} were given.", nameof(received));
        }

        var syndromes = Syndromes(received);
        var word = received.ToArray();
        if (Array.TrueForAll(syndromes, s => s == 0))
        {
            return new BchDecoding(true, word[..MessageLength], 0);
        }

        var locator = BerlekampMassey(syndromes);
        var degree = locator.Length - 1;
        if (degree > CorrectableErrors)
        {
            return BchDecoding.Refused;
        }

        // Chien search over the N sent positions: an error at degree p makes Λ(α^−p) = 0.
        var found = 0;
        for (var p = 0; p < Length; p++)
        {
            if (EvaluateAt(locator, (order - (p % order)) % order) == 0)
            {
                word[Length - 1 - p] = !word[Length - 1 - p];
                found++;
            }
        }

        if (found != degree || !Array.TrueForAll(Syndromes(word), s => s == 0))
        {
            return BchDecoding.Refused;
        }

        return new BchDecoding(true, word[..MessageLength], found);
    }

    /// <summary>The generator polynomial g(x), coefficient of x^i at index i.</summary>
    public bool[] GeneratorPolynomial() => (bool[])generator.Clone();

    /// <inheritdoc/>
    public bool Equals(BchCode? other) =>
        other is not null && other.FieldDegree == FieldDegree && other.Length == Length && other.MessageLength == MessageLength;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as BchCode);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(FieldDegree, Length, MessageLength);

    /// <summary>E.g. <c>BCH(252, 160) over GF(2^8), t = 12</c>.</summary>
    public override string ToString() => $"BCH({Length}, {MessageLength}) over GF(2^{FieldDegree}), t = {CorrectableErrors}";

    private static void CheckDegree(int m)
    {
        if (m is < MinFieldDegree or > MaxFieldDegree)
        {
            throw new ArgumentOutOfRangeException(nameof(m), m, $"BCH codes are offered over GF(2^{MinFieldDegree}) to GF(2^{MaxFieldDegree}).");
        }
    }

    private static (int[] Exp, int[] Log) Field(int m)
    {
        var size = 1 << m;
        var exp = new int[2 * size];
        var log = new int[size];
        var x = 1;
        for (var i = 0; i < size - 1; i++)
        {
            exp[i] = x;
            log[x] = i;
            x <<= 1;
            if ((x & size) != 0)
            {
                x ^= Primitive[m];
            }
        }

        for (var i = size - 1; i < exp.Length; i++)
        {
            exp[i] = exp[i - (size - 1)];
        }

        return (exp, log);
    }

    // degrees[t] = deg g for designed t (index 0 unused), up to the t where g reaches x^n − 1's degree.
    private static List<int> ParityDegrees(int m)
    {
        var n = (1 << m) - 1;
        var covered = new bool[n];
        var degrees = new List<int> { 0 };
        var r = 0;
        for (var t = 1; ; t++)
        {
            foreach (var i in new[] { (2 * t) - 1, 2 * t })
            {
                if (i >= n || covered[i])
                {
                    continue;
                }

                for (var e = i; !covered[e]; e = (2 * e) % n)
                {
                    covered[e] = true;
                    r++;
                }
            }

            if (r >= n || 2 * t >= n)
            {
                return degrees;
            }

            degrees.Add(r);
        }
    }

    private static bool[] Generator(int m, int t)
    {
        var n = (1 << m) - 1;
        var (exp, log) = Field(m);
        var covered = new bool[n];
        bool[] g = [true];
        for (var i = 1; i <= 2 * t; i++)
        {
            if (covered[i % n])
            {
                continue;
            }

            // Minimal polynomial of α^i: the product of (x − α^e) over its cyclotomic coset.
            int[] minimal = [1];
            for (var e = i % n; !covered[e]; e = (2 * e) % n)
            {
                covered[e] = true;
                var next = new int[minimal.Length + 1];
                for (var j = 0; j < minimal.Length; j++)
                {
                    next[j + 1] ^= minimal[j];
                    next[j] ^= minimal[j] == 0 ? 0 : exp[log[minimal[j]] + e];
                }

                minimal = next;
            }

            var product = new bool[g.Length + minimal.Length - 1];
            for (var a = 0; a < g.Length; a++)
            {
                if (!g[a])
                {
                    continue;
                }

                for (var b = 0; b < minimal.Length; b++)
                {
                    product[a + b] ^= minimal[b] == 1;
                }
            }

            g = product;
        }

        return g;
    }

    // S_i = r(α^i), i = 1..2t, by Horner over the sent bits (bit j is the coefficient of x^{N−1−j}).
    private int[] Syndromes(ReadOnlySpan<bool> word)
    {
        var syndromes = new int[2 * CorrectableErrors];
        for (var i = 1; i <= syndromes.Length; i++)
        {
            var step = i % order;
            var s = 0;
            foreach (var bit in word)
            {
                s = s == 0 ? 0 : exp[log[s] + step];
                if (bit)
                {
                    s ^= 1;
                }
            }

            syndromes[i - 1] = s;
        }

        return syndromes;
    }

    // The error locator Λ(x) (coefficient of x^i at index i), of the least degree that explains the syndromes.
    private int[] BerlekampMassey(int[] syndromes)
    {
        var lambda = new List<int> { 1 };
        var previous = new List<int> { 1 };
        var length = 0;
        var shift = 1;
        var previousDiscrepancy = 1;
        for (var k = 0; k < syndromes.Length; k++)
        {
            var discrepancy = syndromes[k];
            for (var i = 1; i <= length && i < lambda.Count; i++)
            {
                discrepancy ^= Multiply(lambda[i], syndromes[k - i]);
            }

            if (discrepancy == 0)
            {
                shift++;
                continue;
            }

            var scale = Divide(discrepancy, previousDiscrepancy);
            var updated = new List<int>(lambda);
            while (updated.Count < previous.Count + shift)
            {
                updated.Add(0);
            }

            for (var i = 0; i < previous.Count; i++)
            {
                updated[i + shift] ^= Multiply(scale, previous[i]);
            }

            if (2 * length <= k)
            {
                previous = lambda;
                length = k + 1 - length;
                previousDiscrepancy = discrepancy;
                shift = 1;
            }
            else
            {
                shift++;
            }

            lambda = updated;
        }

        while (lambda.Count > 1 && lambda[^1] == 0)
        {
            lambda.RemoveAt(lambda.Count - 1);
        }

        return [.. lambda];
    }

    private int EvaluateAt(int[] polynomial, int power)
    {
        var value = 0;
        for (var i = polynomial.Length - 1; i >= 0; i--)
        {
            value = value == 0 ? 0 : exp[log[value] + power];
            value ^= polynomial[i];
        }

        return value;
    }

    private int Multiply(int a, int b) => a == 0 || b == 0 ? 0 : exp[log[a] + log[b]];

    private int Divide(int a, int b) => a == 0 ? 0 : exp[log[a] + order - log[b]];
}

/// <summary>What decoding a word gave: the message when the errors could be corrected, and how many were.</summary>
public sealed record BchDecoding(bool Success, bool[]? Message, int Corrected)
{
    /// <summary>More errors than the code locates: no message.</summary>
    public static BchDecoding Refused { get; } = new(false, null, 0);
}
