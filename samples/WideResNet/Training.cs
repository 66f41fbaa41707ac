using Watermark;
using Watermark.Training;
using WideResNet.Data;
using WideResNet.Memory;
using static TorchSharp.torch;

namespace WideResNet;

/// <summary>
/// How the sample trains: the library's <see cref="Trainer"/> over the CIFAR-record loader (per-sample
/// crop and flip, CIFAR-10 normalisation), with glibc told to keep freed memory for libtorch (about 10%
/// faster on CPU) and to hand it back between epochs, and the resident-memory peak reset at each epoch's
/// start so that the results record each epoch's own peak.
/// </summary>
internal static class SampleTraining
{
    /// <summary>The paper's mini-batch size.</summary>
    public const int BatchSize = 64;

    /// <summary>A trainer with the sample's memory handling.</summary>
    public static Trainer Trainer(nn.Module<Tensor, Tensor> model, TrainingOptions options, WatermarkRegularizer? watermark = null, nn.Module<Tensor, Tensor>? teacher = null, Device? device = null, string? checkpoint = null, ProgressDisplay? progress = null)
    {
        NativeAllocator.KeepFreedMemory();
        return new Trainer(model, options, watermark, teacher, device)
        {
            CheckpointPath = checkpoint,
            Progress = progress ?? ProgressDisplay.None,
            EpochStarting = _ => ProcessMemory.ResetPeak(),
            EpochEnding = _ => NativeAllocator.ReleaseFreeMemory(),
        };
    }

    /// <summary>Shuffled, augmented training batches; their order and crops depend on the options' seed and the epoch only.</summary>
    public static BatchLoader TrainBatches(ImageDataset data, TrainingOptions options) => new(data, BatchSize, shuffle: true, augment: true, seed: options.Seed);

    /// <summary>Test batches: in order, not augmented.</summary>
    public static BatchLoader TestBatches(ImageDataset data) => new(data, 256, shuffle: false, augment: false, seed: 0);

    /// <summary>Trains on <paramref name="train"/> and tests on <paramref name="test"/> each epoch.</summary>
    public static System.Collections.Generic.IReadOnlyList<EpochMetrics> Fit(this Trainer trainer, ImageDataset train, ImageDataset? test, TrainingOptions options) =>
        trainer.Fit(TrainBatches(train, options), test is null ? null : TestBatches(test));
}
