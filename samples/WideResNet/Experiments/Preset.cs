using System;
using System.Collections.Immutable;
using System.Linq;
using Watermark.Training;

namespace WideResNet.Experiments;

/// <summary>
/// How big an experiment is. <c>paper</c> is Uchida et al. §4.1 exactly (WRN-10-4, 200 epochs, lr 0.1
/// × 0.2 at 60/120/160, batch 64, weight decay 5e-4) — a GPU job. <c>cpu</c> keeps everything but the
/// width and the length: WRN-10-2 (M = 288/576/1152 in conv2/3/4) for 10 epochs with the milestones
/// scaled to 3/6/8, which takes about 12 minutes a run on 2 cores.
/// Caltech-101 (3,030 training images, 48 batches an epoch) gets <see cref="Caltech101Epochs"/>: the
/// paper trains it 200 epochs like CIFAR-10; the cpu preset gives it as many SGD steps as a CIFAR-10
/// run (10 × 782 ≈ 160 × 48), since 10 epochs (480 steps) leave it at 85% test error and a mark with
/// a wrong bit.
/// </summary>
internal sealed record Preset(string Name, int Depth, int Widen, int Epochs, ImmutableArray<int> Milestones, int BatchSize, double LearningRate, double WeightDecay, int Caltech101Epochs)
{
    public static Preset Cpu { get; } = new("cpu", 10, 2, 10, [3, 6, 8], 64, 0.1, 5e-4, 160);

    public static Preset Paper { get; } = new("paper", 10, 4, 200, [60, 120, 160], 64, 0.1, 5e-4, 200);

    /// <summary>The epochs of a training on <paramref name="dataset"/>, unless <c>--epochs</c> shortens every run.</summary>
    public int EpochsOn(string dataset, int? shortened) => shortened ?? (dataset == "caltech101" ? Caltech101Epochs : Epochs);

    public static Preset Parse(string name) => name switch
    {
        "cpu" => Cpu,
        "paper" => Paper,
        _ => throw new ArgumentException($"unknown preset '{name}': use 'cpu' (WRN-10-2, 10 epochs) or 'paper' (WRN-10-4, 200 epochs)."),
    };

    /// <summary>The training options of one run.</summary>
    public TrainingOptions Options(ulong seed, int? epochs = null)
    {
        var length = epochs ?? Epochs;
        // A shortened run scales the milestones with it.
        var milestones = epochs is null ? Milestones : [.. Milestones.Select(m => Math.Max(1, (int)Math.Round((double)m * length / Epochs)))];
        return new TrainingOptions
        {
            Epochs = length,
            LearningRate = LearningRate,
            WeightDecay = WeightDecay,
            Milestones = milestones,
            Gamma = 0.2,
            Momentum = 0.9,
            Nesterov = true,
            Seed = seed,
            ReportEvery = 100,
        };
    }
}
