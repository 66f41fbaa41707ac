using System;
using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

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
        // The 20 rounds on 16 locals: the JIT keeps them in registers (a span costs bounds checks and
        // memory traffic on every one of the 320 additions, xors and rotations).
        var s = state;
        uint x0 = s[0], x1 = s[1], x2 = s[2], x3 = s[3], x4 = s[4], x5 = s[5], x6 = s[6], x7 = s[7];
        uint x8 = s[8], x9 = s[9], x10 = s[10], x11 = s[11], x12 = s[12], x13 = s[13], x14 = s[14], x15 = s[15];
        for (var round = 0; round < 10; round++)
        {
            QuarterRound(ref x0, ref x4, ref x8, ref x12);
            QuarterRound(ref x1, ref x5, ref x9, ref x13);
            QuarterRound(ref x2, ref x6, ref x10, ref x14);
            QuarterRound(ref x3, ref x7, ref x11, ref x15);
            QuarterRound(ref x0, ref x5, ref x10, ref x15);
            QuarterRound(ref x1, ref x6, ref x11, ref x12);
            QuarterRound(ref x2, ref x7, ref x8, ref x13);
            QuarterRound(ref x3, ref x4, ref x9, ref x14);
        }

        output = output[..16];
        output[0] = x0 + s[0];
        output[1] = x1 + s[1];
        output[2] = x2 + s[2];
        output[3] = x3 + s[3];
        output[4] = x4 + s[4];
        output[5] = x5 + s[5];
        output[6] = x6 + s[6];
        output[7] = x7 + s[7];
        output[8] = x8 + s[8];
        output[9] = x9 + s[9];
        output[10] = x10 + s[10];
        output[11] = x11 + s[11];
        output[12] = x12 + s[12];
        output[13] = x13 + s[13];
        output[14] = x14 + s[14];
        output[15] = x15 + s[15];

        if (state[12] == uint.MaxValue)
        {
            throw new InvalidOperationException("Key stream exhausted (2^32 blocks); no key is that large.");
        }

        state[12]++;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void QuarterRound(ref uint a, ref uint b, ref uint c, ref uint d)
    {
        a += b; d = BitOperations.RotateLeft(d ^ a, 16);
        c += d; b = BitOperations.RotateLeft(b ^ c, 12);
        a += b; d = BitOperations.RotateLeft(d ^ a, 8);
        c += d; b = BitOperations.RotateLeft(b ^ c, 7);
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
