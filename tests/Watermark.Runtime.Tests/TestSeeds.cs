using System.Linq;

namespace Watermark.Tests;

internal static class TestSeeds
{
    /// <summary>A distinct fixed seed per index.</summary>
    public static SecretSeed Numbered(int n) => SecretSeed.FromBytes(Enumerable.Range(0, 32).Select(i => (byte)((i * 7) + (n * 31) + 1)).ToArray());

    public static WatermarkKey Key(string parameter, long[] shape, int bits, int seed, KeyKind kind = KeyKind.Random, Message? message = null, Whitening? whitening = null, bool allowOverCapacity = false) =>
        WatermarkKey.Create(parameter, shape, bits, kind, message ?? Message.FromText("A"), WatermarkKey.DefaultStrength, whitening, allowOverCapacity, Numbered(seed));
}
