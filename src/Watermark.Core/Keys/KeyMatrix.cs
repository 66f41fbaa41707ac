using System;

namespace Watermark;

/// <summary>
/// Derives the secret projection X ∈ R^{T×M} (row-major, float32) from a seed, deterministically.
/// The rules are part of key-file version 1 (docs/key-derivation.md) and must never change.
/// </summary>
internal static class KeyMatrix
{
    internal static float[] Derive(KeyKind kind, SecretSeed seed, int bits, int filterMeanLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bits);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(filterMeanLength);
        var size = (long)bits * filterMeanLength;
        if (size > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(bits), $"A key of {bits}×{filterMeanLength} entries is larger than one array can hold.");
        }

        var x = new float[size];
        var stream = new KeyStream(seed, KeyStream.Purpose.KeyMatrix);
        switch (kind)
        {
            case KeyKind.Random:
                FillNormal(stream, x);
                break;
            case KeyKind.Direct:
                FillDirect(stream, x, bits, filterMeanLength);
                break;
            case KeyKind.Diff:
                FillDiff(stream, x, bits, filterMeanLength);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown key kind.");
        }

        return x;
    }

    // Normals are drawn in pairs; an odd count drops the pair's second value.
    private static void FillNormal(KeyStream stream, float[] x)
    {
        for (var i = 0; i < x.Length; i += 2)
        {
            var (first, second) = stream.NextNormalPair();
            x[i] = (float)first;
            if (i + 1 < x.Length)
            {
                x[i + 1] = (float)second;
            }
        }
    }

    // Row j takes column perm_{j / M}[j % M]: a fresh Fisher–Yates permutation for each block of M rows,
    // so no column repeats while T ≤ M.
    private static void FillDirect(KeyStream stream, float[] x, int bits, int m)
    {
        var permutation = new int[m];
        for (var row = 0; row < bits; row++)
        {
            var position = row % m;
            if (position == 0)
            {
                for (var i = 0; i < m; i++)
                {
                    permutation[i] = i;
                }

                for (var i = m - 1; i > 0; i--)
                {
                    var j = stream.NextBelow(i + 1);
                    (permutation[i], permutation[j]) = (permutation[j], permutation[i]);
                }
            }

            x[((long)row * m) + permutation[position]] = 1f;
        }
    }

    // Row j: +1 at a uniform column a, −1 at a uniform column b ≠ a (b drawn from M−1 and shifted past a).
    private static void FillDiff(KeyStream stream, float[] x, int bits, int m)
    {
        if (m < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(m), "A diff key needs a filter mean of at least 2 entries.");
        }

        for (var row = 0; row < bits; row++)
        {
            var plus = stream.NextBelow(m);
            var minus = stream.NextBelow(m - 1);
            if (minus >= plus)
            {
                minus++;
            }

            x[((long)row * m) + plus] = 1f;
            x[((long)row * m) + minus] = -1f;
        }
    }
}
