using System;
using System.Collections.Immutable;

namespace Watermark.Training;

/// <summary>
/// Optimiser and schedule. The defaults are the paper's (§4.1): SGD with Nesterov momentum 0.9,
/// lr 0.1, weight decay 5e-4, batch 64, lr × 0.2 at epochs 60, 120 and 160 of 200.
/// </summary>
public sealed record TrainingOptions
{
    /// <summary>Epochs to train.</summary>
    public int Epochs { get; init; } = 200;

    /// <summary>Images per mini-batch.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Initial learning rate.</summary>
    public double LearningRate { get; init; } = 0.1;

    /// <summary>Momentum.</summary>
    public double Momentum { get; init; } = 0.9;

    /// <summary>Nesterov momentum.</summary>
    public bool Nesterov { get; init; } = true;

    /// <summary>L2 weight decay (the paper's 5e-4; the reference code uses none).</summary>
    public double WeightDecay { get; init; } = 5e-4;

    /// <summary>
    /// Weight decay of the watermark's host weights when it should differ from <see cref="WeightDecay"/>
    /// (null: the same; 0: the host does not decay, as in the authors' code, which has no weight decay).
    /// Weight decay pulls each of a host's O filters towards 0 while λ·E_R pushes their mean with 1/O
    /// of its gradient. For keys with short rows (direct, diff) that costs a few bits; the task loss
    /// holds the filter means too, so a larger λ is the stronger remedy.
    /// </summary>
    public double? HostWeightDecay { get; init; }

    /// <summary>Epochs (0-based count of finished epochs) at which the learning rate is multiplied by <see cref="Gamma"/>.</summary>
    public ImmutableArray<int> Milestones { get; init; } = [60, 120, 160];

    /// <summary>Learning-rate factor at each milestone.</summary>
    public double Gamma { get; init; } = 0.2;

    /// <summary>Per-sample pad-4 crop and flip on the training set.</summary>
    public bool Augment { get; init; } = true;

    /// <summary>Seed of shuffling, augmentation and torch's RNG per epoch.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Progress lines within an epoch: every this many batches (0: only at epoch ends).</summary>
    public int ReportEvery { get; init; } = 50;

    /// <summary>
    /// Let glibc keep freed native memory for libtorch to reuse instead of returning it to the OS each
    /// step (see <see cref="NativeAllocator.KeepFreedMemory"/>): about 10% faster on CPU; results unchanged.
    /// Between epochs the trainer hands the kept pages back (<see cref="NativeAllocator.ReleaseFreeMemory"/>),
    /// so memory does not grow with the heap's fragmentation; the next epoch faults them in again once
    /// (~0.1 s for WRN-10-2: 3% of a 3.3 s Caltech-101 epoch, noise against a 55 s CIFAR-10 epoch).
    /// </summary>
    public bool KeepNativeMemory { get; init; } = true;

    /// <summary>Validates the options, naming the bad one.</summary>
    public void Validate()
    {
        if (Epochs <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "Epochs must be positive.");
        }

        if (BatchSize <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be positive.");
        }

        if (!(LearningRate > 0) || !double.IsFinite(LearningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "LearningRate must be a positive number.");
        }

        if (Momentum < 0 || WeightDecay < 0 || !(Gamma > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(Momentum), "Momentum and WeightDecay must be ≥ 0 and Gamma > 0.");
        }

        if (HostWeightDecay is { } host && !(host >= 0 && double.IsFinite(host)))
        {
            throw new ArgumentOutOfRangeException(nameof(HostWeightDecay), HostWeightDecay, "HostWeightDecay must be ≥ 0 (or null: the same as WeightDecay).");
        }
    }

    /// <summary>The learning rate during epoch <paramref name="epoch"/> (0-based), as MultiStepLR sets it.</summary>
    public double LearningRateAt(int epoch)
    {
        var lr = LearningRate;
        foreach (var milestone in Milestones)
        {
            if (epoch >= milestone)
            {
                lr *= Gamma;
            }
        }

        return lr;
    }
}
