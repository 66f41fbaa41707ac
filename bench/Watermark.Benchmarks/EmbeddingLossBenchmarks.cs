using System.Linq;
using BenchmarkDotNet.Attributes;
using TorchSharp;
using TorchSharp.Modules;
using WideResNet.Memory;
using static TorchSharp.torch;

namespace Watermark.Benchmarks;

/// <summary>
/// The regularizer's cost against what it rides on: one WRN-10-4 training step at batch 64 (forward,
/// backward, SGD step) with and without λ·E_R of a 256-bit key in conv2, and E_R's forward+backward alone.
/// Overhead = WithMark / Step − 1, or EmbeddingLoss / Step.
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class EmbeddingLossBenchmarks
{
    private WideResNet.Model.WideResNet model = null!;
    private SGD optimizer = null!;
    private WatermarkRegularizer regularizer = null!;
    private Tensor images = null!;
    private Tensor labels = null!;

    [GlobalSetup]
    public void Setup()
    {
        NativeAllocator.KeepFreedMemory(); // as the sample's trainer does
        torch.manual_seed(1);
        model = new WideResNet.Model.WideResNet(10, 4, 10);
        optimizer = optim.SGD(model.parameters(), 0.1, 0.9, 0, 5e-4, true);
        var slot = model.GetWatermarkSlots().Single(s => s.Parameter == "g2.block0.conv2.weight");
        regularizer = new WatermarkRegularizer(new Keyring(slot.CreateKey()), model);
        images = randn(64, 3, 32, 32);
        labels = randint(0, 10, [64]);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        images.Dispose();
        labels.Dispose();
        optimizer.Dispose();
        model.Dispose();
    }

    [Benchmark(Baseline = true, Description = "WRN-10-4 step, batch 64")]
    public void Step() => Train(withMark: false);

    [Benchmark(Description = "WRN-10-4 step + λ·E_R (256 bits, conv2)")]
    public void StepWithMark() => Train(withMark: true);

    [Benchmark(Description = "λ·E_R forward+backward alone")]
    public void EmbeddingLoss()
    {
        using var scope = NewDisposeScope();
        optimizer.zero_grad();
        regularizer.Loss().backward();
    }

    private void Train(bool withMark)
    {
        using var scope = NewDisposeScope();
        optimizer.zero_grad();
        var loss = nn.functional.cross_entropy(model.forward(images), labels);
        (withMark ? loss + regularizer.Loss() : loss).backward();
        optimizer.step();
    }
}
