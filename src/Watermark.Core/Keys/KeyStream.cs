using System;
using System.Buffers.Binary;
using System.Numerics;

namespace Watermark;

/// <summary>
/// The key-derivation stream, version 1: ChaCha20 (RFC 8439, 20 rounds) keyed by the 256-bit seed,
/// with a 96-bit nonce = little-endian <see cref="Purpose"/> followed by 8 zero bytes, and the block
/// counter starting at 0. Words are consumed in order, little-endian, 16 per block. Pure integer
/// arithmetic, so every machine and every later version yields the same words.
/// See docs/key-derivation.md for the exact rules layered on top (uniforms, integers, normals).
/// </summary>
internal sealed class KeyStream
{
    /// <summary>What a stream is used for; each purpose is an independent stream of the same seed.</summary>
    internal enum Purpose : uint
    {
        KeyMatrix = 1,
        WhiteningMask = 2,
    }

    private readonly uint[] state = new uint[16];
    private readonly uint[] block = new uint[16];
    private int next = 16;

    internal KeyStream(ReadOnlySpan<byte> key, uint nonce0, uint nonce1 = 0, uint nonce2 = 0, uint counter = 0)
    {
        if (key.Length != 32)
        {
            throw new ArgumentException("ChaCha20 needs a 32-byte key.", nameof(key));
        }

        state[0] = 0x61707865;
        state[1] = 0x3320646e;
        state[2] = 0x79622d32;
        state[3] = 0x6b206574;
        for (var i = 0; i < 8; i++)
        {
            state[4 + i] = BinaryPrimitives.ReadUInt32LittleEndian(key.Slice(4 * i, 4));
        }

        state[12] = counter;
        state[13] = nonce0;
        state[14] = nonce1;
        state[15] = nonce2;
    }

    internal KeyStream(SecretSeed seed, Purpose purpose)
        : this(seed.Bytes, (uint)purpose)
    {
    }

    /// <summary>Computes one ChaCha20 block into <paramref name="output"/> (16 words) and advances the counter.</summary>
    internal void NextBlock(Span<uint> output)
    {
        Span<uint> x = stackalloc uint[16];
        state.AsSpan().CopyTo(x);
        for (var round = 0; round < 10; round++)
        {
            QuarterRound(x, 0, 4, 8, 12);
            QuarterRound(x, 1, 5, 9, 13);
            QuarterRound(x, 2, 6, 10, 14);
            QuarterRound(x, 3, 7, 11, 15);
            QuarterRound(x, 0, 5, 10, 15);
            QuarterRound(x, 1, 6, 11, 12);
            QuarterRound(x, 2, 7, 8, 13);
            QuarterRound(x, 3, 4, 9, 14);
        }

        for (var i = 0; i < 16; i++)
        {
            output[i] = x[i] + state[i];
        }

        if (state[12] == uint.MaxValue)
        {
            throw new InvalidOperationException("Key stream exhausted (2^32 blocks); no key is that large.");
        }

        state[12]++;
    }

    private static void QuarterRound(Span<uint> x, int a, int b, int c, int d)
    {
        x[a] += x[b]; x[d] = BitOperations.RotateLeft(x[d] ^ x[a], 16);
        x[c] += x[d]; x[b] = BitOperations.RotateLeft(x[b] ^ x[c], 12);
        x[a] += x[b]; x[d] = BitOperations.RotateLeft(x[d] ^ x[a], 8);
        x[c] += x[d]; x[b] = BitOperations.RotateLeft(x[b] ^ x[c], 7);
    }

    /// <summary>The next 32-bit word of the stream.</summary>
    internal uint NextUInt32()
    {
        if (next == 16)
        {
            NextBlock(block);
            next = 0;
        }

        return block[next++];
    }

    /// <summary>The next 64-bit value: low word first.</summary>
    internal ulong NextUInt64()
    {
        ulong low = NextUInt32();
        ulong high = NextUInt32();
        return low | (high << 32);
    }

    /// <summary>A uniform double in [0, 1) with 53 random bits: (NextUInt64() &gt;&gt; 11) · 2^−53.</summary>
    internal double NextUniform() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>An unbiased integer in [0, <paramref name="bound"/>) by rejection of the 32-bit word's top remainder.</summary>
    internal int NextBelow(int bound)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bound);
        var limit = uint.MaxValue - (uint.MaxValue % (uint)bound);
        uint word;
        do
        {
            word = NextUInt32();
        }
        while (word >= limit);
        return (int)(word % (uint)bound);
    }

    /// <summary>
    /// A pair of independent N(0,1) values by Marsaglia's polar method, using only IEEE-754 basic
    /// operations, <see cref="Math.Sqrt"/> (correctly rounded) and <see cref="DeterministicMath.Log"/>.
    /// </summary>
    internal (double First, double Second) NextNormalPair()
    {
        while (true)
        {
            var u = (2.0 * NextUniform()) - 1.0;
            var v = (2.0 * NextUniform()) - 1.0;
            var s = (u * u) + (v * v);
            if (s >= 1.0 || s == 0.0)
            {
                continue;
            }

            var factor = Math.Sqrt(-2.0 * DeterministicMath.Log(s) / s);
            return (u * factor, v * factor);
        }
    }
}
