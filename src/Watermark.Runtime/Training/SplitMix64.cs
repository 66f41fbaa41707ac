using System;

namespace Watermark.Training;

/// <summary>
/// A small, fast, seedable generator (SplitMix64) for shuffling and augmentation: the same seed gives
/// the same order and crops on every machine and .NET version, which System.Random does not promise.
/// Not for secrets (keys use <see cref="SecretSeed"/>).
/// </summary>
public struct SplitMix64(ulong seed) : System.IEquatable<SplitMix64>
{
    private ulong state = seed;

    /// <summary>Mixes several values into one seed (e.g. run seed and epoch).</summary>
    public static ulong Mix(ulong a, ulong b)
    {
        var g = new SplitMix64(a ^ (b * 0x9E3779B97F4A7C15UL));
        g.Next();
        return g.Next();
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong Next()
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>
    /// 0..count−1 in the order of epoch <paramref name="epoch"/> (Fisher–Yates drawn from (seed, epoch)), or in
    /// order when <paramref name="shuffle"/> is false: the same permutation on every machine.
    /// </summary>
    public static int[] Order(int count, bool shuffle, ulong seed, int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var order = new int[count];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        if (shuffle)
        {
            var random = new SplitMix64(Mix(seed, (ulong)epoch));
            for (var i = order.Length - 1; i > 0; i--)
            {
                var j = random.Below(i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
        }

        return order;
    }

    /// <summary>An integer in [0, bound) (multiply-shift; the bias is below 2^−32 for our bounds).</summary>
    public int Below(int bound) => (int)(((Next() >> 32) * (ulong)bound) >> 32);

    /// <summary>Whether both generators are in the same state.</summary>
    public readonly bool Equals(SplitMix64 other) => state == other.state;

    /// <inheritdoc/>
    public override readonly bool Equals(object? obj) => obj is SplitMix64 other && Equals(other);

    /// <inheritdoc/>
    public override readonly int GetHashCode() => state.GetHashCode();

    /// <summary>Whether both generators are in the same state.</summary>
    public static bool operator ==(SplitMix64 left, SplitMix64 right) => left.Equals(right);

    /// <summary>Whether the generators are in different states.</summary>
    public static bool operator !=(SplitMix64 left, SplitMix64 right) => !left.Equals(right);
}
