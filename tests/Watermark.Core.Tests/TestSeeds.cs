using System.Linq;

namespace Watermark.Tests;

internal static class TestSeeds
{
    /// <summary>Bytes 0, 1, …, 31: the fixed seed of the golden vectors.</summary>
    public static SecretSeed Counting() => SecretSeed.FromBytes(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray());

    /// <summary>A distinct fixed seed per index.</summary>
    public static SecretSeed Numbered(int n) => SecretSeed.FromBytes(Enumerable.Range(0, 32).Select(i => (byte)(i * 7 + n * 31 + 1)).ToArray());
}
