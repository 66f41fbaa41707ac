using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using TorchSharp;
using TorchSharp.Modules;
using Watermark.Data;
using static TorchSharp.torch;

namespace Watermark.Training;

/// <summary>What the model learns from.</summary>
public enum TrainingTarget
{
    /// <summary>The dataset's labels (train- and fine-tune-to-embed).</summary>
    Labels,

    /// <summary>A teacher's soft predictions; labels are never read (distill-to-embed).</summary>
    Teacher,
}

/// <summary>
/// A ready training loop for any TorchSharp classifier, with the watermark's λ·E_R added to the task
/// loss: SGD (Nesterov), weight decay, multi-step learning rate, per-epoch atomic checkpoints that a
/// later run resumes from, and progress. Your own loop remains possible: <c>loss = task + regularizer.Loss()</c>.
/// </summary>
public sealed class Trainer
{
    private readonly nn.Module<Tensor, Tensor> model;
    private readonly TrainingOptions options;
    private readonly WatermarkRegularizer? watermark;
    private readonly nn.Module<Tensor, Tensor>? teacher;
    private readonly Device device;

    /// <summary>Creates a trainer. Pass a <paramref name="teacher"/> to distill instead of reading labels.</summary>
    public Trainer(nn.Module<Tensor, Tensor> model, TrainingOptions options, WatermarkRegularizer? watermark = null, nn.Module<Tensor, Tensor>? teacher = null, Device? device = null)
    {
        this.model = model ?? throw new ArgumentNullException(nameof(model));
        this.options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        this.watermark = watermark;
        this.teacher = teacher;
        this.device = device ?? CPU;
    }

    /// <summary>
    /// Where to write a checkpoint after each epoch (and resume from, when it exists). Null: none.
    /// <see cref="Fit"/> refuses a folder, or a path whose folder cannot be created, before the first epoch.
    /// </summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Progress output.</summary>
    public ProgressDisplay Progress { get; init; } = ProgressDisplay.None;

    /// <summary>Labels, or a teacher's predictions.</summary>
    public TrainingTarget Target => teacher is null ? TrainingTarget.Labels : TrainingTarget.Teacher;

    /// <summary>Called after each epoch (and its checkpoint) with the history so far.</summary>
    public Action<IReadOnlyList<EpochMetrics>>? EpochFinished { get; init; }

    /// <summary>
    /// Trains for <see cref="TrainingOptions.Epochs"/> epochs in total, resuming from
    /// <see cref="CheckpointPath"/> when it holds an earlier state of this run.
    /// </summary>
    /// <exception cref="WatermarkException">The checkpoint path cannot hold a checkpoint, or the checkpoint there is refused.</exception>
    public IReadOnlyList<EpochMetrics> Fit(ImageDataset train, ImageDataset? test = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        if (CheckpointPath is not null)
        {
            CheckCheckpointPath(CheckpointPath);
        }

        if (options.KeepNativeMemory)
        {
            NativeAllocator.KeepFreedMemory();
        }

        var loader = new BatchLoader(train, options.BatchSize, shuffle: true, augment: options.Augment, seed: options.Seed);
        var testLoader = test is null ? null : new BatchLoader(test, 256, shuffle: false, augment: false, seed: 0);
        model.to(device);
        watermark?.Rebind();
        teacher?.to(device).eval();
        using var optimizer = Optimizer();

        var history = new List<EpochMetrics>();
        var start = 0;
        if (CheckpointPath is not null && File.Exists(CheckpointPath))
        {
            var (finished, saved) = Checkpoint.Load(CheckpointPath, model, optimizer, RunTag(), options.Epochs);

            start = finished;
            history.AddRange(saved);
            Progress.Line($"resumed from {CheckpointPath} after epoch {finished}");
        }

        for (var epoch = start; epoch < options.Epochs; epoch++)
        {
            cancellation.ThrowIfCancellationRequested();
            torch.manual_seed((long)(SplitMix64.Mix(options.Seed, (ulong)epoch) >> 1));
            var lr = options.LearningRateAt(epoch);
            foreach (var group in optimizer.ParamGroups)
            {
                group.LearningRate = lr;
            }

            ProcessMemory.ResetPeak();
            var clock = Stopwatch.StartNew();
            var (loss, error) = TrainEpoch(loader, optimizer, epoch, cancellation);
            var seconds = clock.Elapsed.TotalSeconds;
            var (er, ber, log10p) = WatermarkState();
            var testError = testLoader is null ? double.NaN : Evaluate(model, testLoader, device);
            var peak = ProcessMemory.PeakResidentMegabytes();
            ReleaseEpochMemory();
            var metrics = new EpochMetrics(epoch + 1, lr, loss, error, er, ber, log10p, testError, seconds, train.Count / seconds, ProcessMemory.ResidentMegabytes(), ProcessMemory.ManagedMegabytes(), peak);
            history.Add(metrics);
            if (CheckpointPath is not null)
            {
                Checkpoint.Save(CheckpointPath, model, optimizer, epoch + 1, RunTag(), history);
            }

            var perEpoch = history.Skip(start).Average(h => h.Seconds);
            Progress.Epoch(options.Epochs, metrics, TimeSpan.FromSeconds(perEpoch * (options.Epochs - epoch - 1)));
            EpochFinished?.Invoke(history);
        }

        return history;
    }

    // Checked before the first epoch: otherwise a path that cannot hold a checkpoint fails only at the
    // first save, after a whole epoch of training.
    private static void CheckCheckpointPath(string path)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new WatermarkException("The checkpoint path is empty; give a file such as 'run.ckpt', or none (null) to train without checkpoints.");
        }

        if (Directory.Exists(path))
        {
            throw new WatermarkException($"Checkpoint path '{path}' is a folder, not a file; give a file inside it (e.g. '{Path.Combine(path, "checkpoint.ckpt")}') or remove the folder.");
        }

        // A pipe would block the resume; a device node would be replaced at the first save (or read without end).
        var kind = UnixFiles.KindOf(path, followLinks: true);
        if (kind is not (FileKind.Regular or FileKind.Missing))
        {
            throw new WatermarkException($"Checkpoint path '{path}' is {UnixFiles.Describe(kind)}, not a regular file; give a file path for checkpoints.");
        }

        string? folder = null;
        try
        {
            folder = Path.GetDirectoryName(Path.GetFullPath(path));
            if (folder is not null)
            {
                Directory.CreateDirectory(folder);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new WatermarkException($"Checkpoint path '{path}' cannot be used: its folder '{folder ?? path}' cannot be created ({e.Message}); choose a path in a folder you can write to.", e);
        }
    }

    // Between epochs nothing large is alive. The epoch's managed garbage (tensor wrappers, the last
    // checkpoint's buffers) sits in gen 2 and on the large-object heap, which the loop's low allocation
    // rate rarely makes the GC collect (it crept up ~20 MiB an epoch), and glibc keeps the freed
    // activation buffers (KeepFreedMemory), in a heap that fragments and grew in steps over a
    // 160-epoch run. A full collection and a trim here leave resident memory at what the run really
    // holds; the cost is one round of page faults in the next epoch, ~0.1 s for WRN-10-2
    // (bench/README.md, "Memory").
    private void ReleaseEpochMemory()
    {
        // Aggressive also hands the GC's free regions back at once (loading CIFAR-10 leaves ~400 MiB of
        // them, which a plain collection decommits only bit by bit over the following epochs).
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        if (options.KeepNativeMemory)
        {
            NativeAllocator.ReleaseFreeMemory();
        }
    }

    // SGD over every parameter; with HostWeightDecay, the host weights form a second group with their own decay.
    private SGD Optimizer()
    {
        var o = options;
        var hosts = watermark?.Weights ?? [];
        if (o.HostWeightDecay is not { } hostDecay || hosts.Count == 0)
        {
            return optim.SGD(model.parameters(), o.LearningRate, o.Momentum, 0, o.WeightDecay, o.Nesterov);
        }

        var isHost = new HashSet<Parameter>(hosts, ReferenceEqualityComparer.Instance);
        var rest = model.parameters().Where(p => !isHost.Contains(p)).ToList();
        SGD.ParamGroup[] groups =
        [
            new(rest, o.LearningRate, o.Momentum, 0, o.WeightDecay, o.Nesterov, false),
            new(hosts, o.LearningRate, o.Momentum, 0, hostDecay, o.Nesterov, false),
        ];
        return optim.SGD(groups, o.LearningRate, o.Momentum, 0, o.WeightDecay, o.Nesterov);
    }

    // What a checkpoint must agree with to be resumed: the options (seed included; the number of epochs may
    // grow, to extend a run), the slots and the target.
    private string RunTag()
    {
        var slots = watermark is null ? "none" : string.Join(";", watermark.Keyring.Slots.Select(k => $"{k.Parameter}|{k.Bits}|{k.Kind}|{k.Strength.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}|{string.Join(",", k.TargetBits().ToArray().Select(b => b ? '1' : '0'))}"));
        var o = options;
        var settings = FormattableString.Invariant($"{o.BatchSize}|{o.LearningRate:R}|{o.Momentum:R}|{o.Nesterov}|{o.WeightDecay:R}|{string.Join(",", o.Milestones)}|{o.Gamma:R}|{o.Augment}|{o.Seed}")
            + (o.HostWeightDecay is { } host ? FormattableString.Invariant($"|host-decay {host:R}") : string.Empty);
        return $"{settings}|{Target}|{slots}";
    }

    private (double Loss, double Error) TrainEpoch(BatchLoader loader, OptimizerHelper optimizer, int epoch, CancellationToken cancellation)
    {
        model.train();
        using var lossSum = zeros(1, dtype: ScalarType.Float64, device: device);
        using var wrong = zeros(1, dtype: ScalarType.Int64, device: device);
        var seen = 0;
        var batchIndex = 0;
        var clock = Stopwatch.StartNew();
        foreach (var batch in loader.Epoch(epoch, device, cancellation))
        {
            using var scope = NewDisposeScope();
            using var owned = batch;
            var count = (int)batch.Images.shape[0];
            optimizer.zero_grad();
            var logits = model.forward(batch.Images);
            var task = TaskLoss(logits, batch);
            var total = watermark is null ? task : task + watermark.Loss();
            total.backward();
            optimizer.step();

            using (no_grad())
            {
                lossSum.add_(task.detach().to(ScalarType.Float64) * count);
                if (teacher is null)
                {
                    wrong.add_(logits.argmax(1).ne(batch.Labels).sum());
                }
            }

            seen += count;
            batchIndex++;
            if (options.ReportEvery > 0 && batchIndex % options.ReportEvery == 0)
            {
                var elapsed = clock.Elapsed;
                var remaining = TimeSpan.FromSeconds(elapsed.TotalSeconds / batchIndex * (loader.BatchesPerEpoch - batchIndex));
                Progress.Batch(epoch + 1, options.Epochs, batchIndex, loader.BatchesPerEpoch, elapsed, remaining, lossSum.ToDouble() / seen);
            }
        }

        return (lossSum.ToDouble() / seen, teacher is null ? wrong.ToInt64() / (double)seen : double.NaN);
    }

    // Cross-entropy against labels, or against the teacher's softmax (labels untouched).
    private Tensor TaskLoss(Tensor logits, Batch batch)
    {
        if (teacher is null)
        {
            return nn.functional.cross_entropy(logits, batch.Labels);
        }

        Tensor soft;
        using (no_grad())
        {
            soft = nn.functional.softmax(teacher.forward(batch.Images), 1);
        }

        return -(soft * nn.functional.log_softmax(logits, 1)).sum(1).mean();
    }

    private (double EmbeddingLoss, double BitErrorRate, double PValueLog10) WatermarkState()
    {
        if (watermark is null)
        {
            return (double.NaN, double.NaN, double.NaN);
        }

        var verdict = watermark.Verify();
        return (watermark.EmbeddingLossValue(), verdict.BitErrorRate, verdict.PValue.Log10);
    }

    /// <summary>Classification error of <paramref name="model"/> over a loader (evaluation mode, no gradients).</summary>
    public static double Evaluate(nn.Module<Tensor, Tensor> model, BatchLoader loader, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(loader);
        device ??= CPU;
        var wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            using var wrong = zeros(1, dtype: ScalarType.Int64, device: device);
            var seen = 0;
            foreach (var batch in loader.Epoch(0, device))
            {
                using var scope = NewDisposeScope();
                using var owned = batch;
                wrong.add_(model.forward(batch.Images).argmax(1).ne(batch.Labels).sum());
                seen += (int)batch.Labels.shape[0];
            }

            return wrong.ToInt64() / (double)seen;
        }
        finally
        {
            model.train(wasTraining);
        }
    }
}
