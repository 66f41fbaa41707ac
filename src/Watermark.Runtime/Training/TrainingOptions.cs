using System;
using System.Collections.Immutable;

namespace Watermark.Training;

/// <summary>
/// Optimiser and schedule. The defaults are the paper's training from scratch (§4.1, <see cref="Paper"/>):
/// SGD with Nesterov momentum 0.9, lr 0.1, weight decay 5e-4, lr × 0.2 at epochs 60, 120 and 160 of 200.
/// <see cref="FineTune"/> starts from trained weights. The batch size belongs to the data
/// (<see cref="TrainingData"/>); the paper's is 64.
/// </summary>
public sealed record TrainingOptions
{
    /// <summary>The paper's training from scratch: 200 epochs, lr 0.1 × 0.2 at 60/120/160 (the defaults).</summary>
    public static TrainingOptions Paper { get; } = new();

    /// <summary>
    /// Fine-tune-to-embed a trained model: 10 epochs at lr 0.01, × 0.2 at epochs 5 and 8, the paper's
    /// momentum and weight decay. A starting point rather than the paper's setting (its fine-tuning
    /// keeps the from-scratch schedule); the mark usually reads back with BER 0 after the first epoch.
    /// </summary>
    public static TrainingOptions FineTune { get; } = new() { Epochs = 10, LearningRate = 0.01, Milestones = [5, 8] };

    /// <summary>Epochs to train.</summary>
    public int Epochs { get; init; } = 200;

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

    /// <summary>Seed of torch's RNG per epoch (dropout and the like); the data's order has its own seed.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Progress lines within an epoch: every this many batches (0: only at epoch ends).</summary>
    public int ReportEvery { get; init; } = 50;

    /// <summary>Validates the options, naming the bad one.</summary>
    public void Validate()
    {
        if (Epochs <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "Epochs must be positive.");
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

    /// <summary>The options in one line, e.g. <c>200 epochs, SGD lr 0.1 (× 0.2 at 60, 120, 160), momentum 0.9 (Nesterov), weight decay 0.0005, seed 1</c>.</summary>
    public override string ToString()
    {
        var schedule = Milestones.IsDefaultOrEmpty ? string.Empty : FormattableString.Invariant($" (× {Gamma} at {string.Join(", ", Milestones)})");
        var host = HostWeightDecay is { } h ? FormattableString.Invariant($", host weight decay {h}") : string.Empty;
        return FormattableString.Invariant($"{Epochs} epochs, SGD lr {LearningRate}{schedule}, momentum {Momentum}{(Nesterov ? " (Nesterov)" : string.Empty)}, weight decay {WeightDecay}{host}, seed {Seed}");
    }
}
