namespace Watermark.Data;

/// <summary>
/// A small, fast, seedable generator (SplitMix64) for shuffling and augmentation: the same seed gives
/// the same order and crops on every machine and .NET version, which System.Random does not promise.
/// Not for secrets (keys use <see cref="SecretSeed"/>).
/// </summary>
internal struct SplitMix64(ulong seed)
{
    private ulong state = seed;

    /// <summary>Mixes several values into one seed (e.g. run seed and epoch).</summary>
    public static ulong Mix(ulong a, ulong b)
    {
        var g = new SplitMix64(a ^ (b * 0x9E3779B97F4A7C15UL));
        g.Next();
        return g.Next();
    }

    public ulong Next()
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>An integer in [0, bound) (multiply-shift; the bias is below 2^−32 for our bounds).</summary>
    public int Below(int bound) => (int)(((Next() >> 32) * (ulong)bound) >> 32);
}
