using System;
using BenchmarkDotNet.Attributes;
using static TorchSharp.torch;

namespace Watermark.Benchmarks;

/// <summary>Extraction and verdict (filter mean, Xw, bits, p-value) from managed weights and from a tensor.</summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class ExtractionBenchmarks
{
    private WatermarkKey key = null!;
    private float[] weights = null!;
    private Tensor weight = null!;

    [Params(256, 2048)]
    public int Bits { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        long[] shape = Bits == 256 ? [64, 64, 3, 3] : [256, 256, 3, 3];
        key = WatermarkKey.Create("w", shape, Bits, KeyKind.Random, null, 0.01, null, false, SecretSeed.FromBytes(new byte[SecretSeed.Length]));
        var random = new Random(1);
        weights = new float[shape[0] * shape[1] * 9];
        for (var i = 0; i < weights.Length; i++)
        {
            weights[i] = (float)(random.NextDouble() - 0.5);
        }

        weight = tensor(weights).reshape(shape);
    }

    [GlobalCleanup]
    public void Cleanup() => weight.Dispose();

    [Benchmark(Baseline = true, Description = "managed (Core, what the CLI runs)")]
    public SlotVerification Managed() => Extractor.Extract(key, weights, key.Shape);

    [Benchmark(Description = "TorchSharp tensor (Runtime)")]
    public SlotVerification Tensor() => key.Extract(weight);
}
