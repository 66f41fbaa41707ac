using BenchmarkDotNet.Attributes;

namespace Watermark.Benchmarks;

/// <summary>Key derivation (ChaCha20 stream, normal draws, whitening mask) for the paper's slots.</summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class KeyBenchmarks
{
    private readonly SecretSeed seed = SecretSeed.FromBytes(new byte[SecretSeed.Length]);

    [Params(KeyKind.Random, KeyKind.Direct, KeyKind.Diff)]
    public KeyKind Kind { get; set; }

    [Benchmark(Description = "256 bits, conv2 of WRN-10-4 (M = 576)")]
    public int Conv2() => Derive("g2.block0.conv2.weight", [64, 64, 3, 3], 256);

    [Benchmark(Description = "2048 bits, conv4 of WRN-10-4 (M = 2304)")]
    public int Conv4() => Derive("g4.block0.conv2.weight", [256, 256, 3, 3], 2048);

    // Create is lazy: the projection matrix and the target bits are derived on first use.
    private int Derive(string parameter, long[] shape, int bits)
    {
        var key = WatermarkKey.Create(parameter, shape, bits, Kind, null, 0.01, null, false, seed);
        return key.ProjectionMatrix().Length + key.TargetBits().Length;
    }
}
