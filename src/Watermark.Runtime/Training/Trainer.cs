using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Watermark.Training;

/// <summary>What the model learns from.</summary>
public enum TrainingTarget
{
    /// <summary>The dataset's targets (train- and fine-tune-to-embed).</summary>
    Labels,

    /// <summary>A teacher's soft predictions; targets are never read (distill-to-embed).</summary>
    Teacher,
}

/// <summary>One finished training step, for <see cref="Trainer.StepFinished"/>.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Batch">1-based batch within the epoch.</param>
/// <param name="BatchesPerEpoch">Batches in the epoch.</param>
/// <param name="TaskLoss">The step's task loss (without λ·E_R).</param>
public sealed record TrainingStep(int Epoch, long Batch, long BatchesPerEpoch, double TaskLoss);

/// <summary>
/// A ready training loop for any TorchSharp model, with the watermark's λ·E_R added to the task loss:
/// any <see cref="ITrainingData"/> (a TorchSharp <c>Dataset</c> through <see cref="TrainingData"/>, or
/// your own batches), the paper's SGD by default or any optimizer and learning-rate schedule, a
/// callback per step and per epoch, and per-epoch atomic checkpoints that a later run resumes from.
/// Your own loop remains possible: <c>loss = task + regularizer.Loss()</c>.
/// </summary>
public sealed class Trainer
{
    private readonly nn.Module<Tensor, Tensor> model;
    private readonly TrainingOptions options;
    private readonly WatermarkRegularizer? watermark;
    private readonly nn.Module<Tensor, Tensor>? teacher;
    private readonly Device device;

    /// <summary>Creates a trainer. Pass a <paramref name="teacher"/> to distill instead of reading targets.</summary>
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

    /// <summary>Targets, or a teacher's predictions.</summary>
    public TrainingTarget Target => teacher is null ? TrainingTarget.Labels : TrainingTarget.Teacher;

    /// <summary>
    /// The task loss of a batch from the model's output and the batch's target; cross-entropy against
    /// class indices when null. Not used when distilling (the loss is then the cross-entropy against
    /// the teacher's softmax).
    /// </summary>
    public Func<Tensor, Tensor, Tensor>? TaskLoss { get; init; }

    /// <summary>
    /// Builds the optimizer from the model and the watermark's host weights (empty without a
    /// watermark). Null: the options' SGD (with <see cref="TrainingOptions.HostWeightDecay"/> as a
    /// second parameter group). Checkpoints hold its state, so a resumed run continues it.
    /// </summary>
    public Func<nn.Module, IReadOnlyList<Parameter>, OptimizerHelper>? Optimizer { get; init; }

    /// <summary>
    /// Builds a TorchSharp learning-rate scheduler for the optimizer; the trainer steps it once after
    /// each epoch (and, when resuming, once per finished epoch before loading the checkpoint). Null: the
    /// options' multi-step schedule (<see cref="TrainingOptions.LearningRateAt"/>) is set on every
    /// parameter group at the start of each epoch.
    /// </summary>
    public Func<OptimizerHelper, optim.lr_scheduler.LRScheduler>? Scheduler { get; init; }

    /// <summary>Called at the start of each epoch with its 0-based number (before any batch).</summary>
    public Action<int>? EpochStarting { get; init; }

    /// <summary>
    /// Called after each epoch's training and evaluation with its 0-based number, before its memory is
    /// measured and its checkpoint written (e.g. to hand freed native memory back to the system).
    /// </summary>
    public Action<int>? EpochEnding { get; init; }

    /// <summary>Called after each step; reading the step's loss costs a device synchronisation only when this is set.</summary>
    public Action<TrainingStep>? StepFinished { get; init; }

    /// <summary>Called after each epoch (and its checkpoint) with the history so far.</summary>
    public Action<IReadOnlyList<EpochMetrics>>? EpochFinished { get; init; }

    /// <summary>
    /// Trains for <see cref="TrainingOptions.Epochs"/> epochs in total, resuming from
    /// <see cref="CheckpointPath"/> when it holds an earlier state of this run. The error rates of the
    /// history are computed when targets are class indices (int64) and the output is [batch, classes];
    /// otherwise they are NaN.
    /// </summary>
    /// <exception cref="WatermarkException">The checkpoint path cannot hold a checkpoint, or the checkpoint there is refused.</exception>
    public IReadOnlyList<EpochMetrics> Fit(ITrainingData train, ITrainingData? test = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        if (CheckpointPath is not null)
        {
            CheckCheckpointPath(CheckpointPath);
        }

        model.to(device);
        watermark?.Rebind();
        teacher?.to(device).eval();
        using var optimizer = CreateOptimizer();
        var initialRates = optimizer.ParamGroups.Select(g => g.LearningRate).ToArray();
        var history = new List<EpochMetrics>();
        var start = 0;
        if (CheckpointPath is not null && File.Exists(CheckpointPath))
        {
            var (finished, saved) = Checkpoint.Load(CheckpointPath, model, optimizer, RunTag(train), options.Epochs);
            start = finished;
            history.AddRange(saved);
            Progress.Line($"resumed from {CheckpointPath} after epoch {finished}");
        }

        // A scheduler starts from the optimiser's initial rates and replays the finished epochs, so a
        // resumed run's rates (and the scheduler's own epoch count) are those of an uninterrupted one.
        optim.lr_scheduler.LRScheduler? scheduler = null;
        if (Scheduler is not null)
        {
            foreach (var (group, rate) in optimizer.ParamGroups.Zip(initialRates))
            {
                group.LearningRate = rate;
            }

            scheduler = Scheduler(optimizer) ?? throw new InvalidOperationException("Trainer.Scheduler returned null; return a scheduler, or leave Scheduler null to use the options' schedule.");
            for (var i = 0; i < start; i++)
            {
                scheduler.step();
            }
        }

        // What the caller left behind before training (reading a dataset leaves hundreds of MiB of
        // buffers on the large-object heap) would otherwise stay resident through the first epoch, on
        // top of its peak: the low allocation rate of a training loop rarely triggers a full collection.
        CollectGarbage();
        for (var epoch = start; epoch < options.Epochs; epoch++)
        {
            cancellation.ThrowIfCancellationRequested();
            EpochStarting?.Invoke(epoch);
            torch.manual_seed((long)(SplitMix64.Mix(options.Seed, (ulong)epoch) >> 1));
            if (Scheduler is null)
            {
                foreach (var group in optimizer.ParamGroups)
                {
                    group.LearningRate = options.LearningRateAt(epoch);
                }
            }

            var lr = optimizer.ParamGroups.First().LearningRate;
            var clock = Stopwatch.StartNew();
            var (loss, error, seen) = TrainEpoch(train, optimizer, epoch, cancellation);
            var seconds = clock.Elapsed.TotalSeconds;
            var (er, ber, log10p) = WatermarkState();
            var testError = test is null ? double.NaN : Evaluate(model, test, device);
            EpochEnding?.Invoke(epoch);
            var (resident, managed, peak) = Memory();
            var metrics = new EpochMetrics(epoch + 1, lr, loss, error, er, ber, log10p, testError, seconds, seen / seconds, resident, managed, peak);
            history.Add(metrics);
            scheduler?.step();
            if (CheckpointPath is not null)
            {
                Checkpoint.Save(CheckpointPath, model, optimizer, epoch + 1, RunTag(train), history);
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

    // Memory at the epoch's end, after a full collection: the epoch's managed garbage (tensor wrappers,
    // the last checkpoint's buffers) sits in gen 2 and on the large-object heap, which the loop's low
    // allocation rate rarely makes the GC collect, and Aggressive hands the GC's free regions back at once
    // (loading a large dataset leaves hundreds of MiB of them). Native memory libtorch freed is the C
    // library's to return; EpochEnding is the place to ask it (the sample calls malloc_trim there).
    private static (double Resident, double Managed, double Peak) Memory()
    {
        CollectGarbage();
        const double MiB = 1024.0 * 1024.0;
        using var process = Process.GetCurrentProcess();
        return (process.WorkingSet64 / MiB, GC.GetGCMemoryInfo().TotalCommittedBytes / MiB, process.PeakWorkingSet64 / MiB);
    }

    private static void CollectGarbage()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
    }

    private OptimizerHelper CreateOptimizer()
    {
        var hosts = watermark?.Weights ?? [];
        if (Optimizer is not null)
        {
            return Optimizer(model, hosts) ?? throw new InvalidOperationException("Trainer.Optimizer returned null; return an optimizer over the model's parameters.");
        }

        // SGD over every parameter; with HostWeightDecay, the host weights form a second group with their own decay.
        var o = options;
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
    // grow, to extend a run), the optimizer and schedule when they are the caller's, the data's size, the
    // slots and the target.
    private string RunTag(ITrainingData data)
    {
        var slots = watermark is null ? "none" : string.Join(";", watermark.Keyring.Slots.Select(k => $"{k.Parameter}|{k.Bits}|{k.Kind}|{k.Strength.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}|{string.Join(",", k.TargetBits().ToArray().Select(b => b ? '1' : '0'))}"));
        var o = options;
        var settings = FormattableString.Invariant($"{o.LearningRate:R}|{o.Momentum:R}|{o.Nesterov}|{o.WeightDecay:R}|{string.Join(",", o.Milestones)}|{o.Gamma:R}|{o.Seed}")
            + (o.HostWeightDecay is { } host ? FormattableString.Invariant($"|host-decay {host:R}") : string.Empty)
            + (Optimizer is null ? string.Empty : "|own optimizer")
            + (Scheduler is null ? string.Empty : "|own scheduler")
            + FormattableString.Invariant($"|{data.Count} examples in {data.BatchesPerEpoch} batches");
        return $"{settings}|{Target}|{slots}";
    }

    private (double Loss, double Error, long Seen) TrainEpoch(ITrainingData data, OptimizerHelper optimizer, int epoch, CancellationToken cancellation)
    {
        model.train();
        using var lossSum = zeros(1, dtype: ScalarType.Float64, device: device);
        using var wrong = zeros(1, dtype: ScalarType.Int64, device: device);
        var classified = true;
        long seen = 0;
        long batchIndex = 0;
        var batches = data.BatchesPerEpoch;
        var clock = Stopwatch.StartNew();
        using var enumerator = data.Epoch(epoch, device, cancellation).GetEnumerator();
        while (true)
        {
            // The scope opens before the batch is produced: what producing it creates is freed with the step.
            using var scope = NewDisposeScope();
            if (!enumerator.MoveNext())
            {
                break;
            }

            var (input, target) = enumerator.Current;
            var count = input.shape[0];
            optimizer.zero_grad();
            var output = model.forward(input);
            var task = Loss(output, input, target);
            var total = watermark is null ? task : task + watermark.Loss();
            total.backward();
            optimizer.step();

            using (no_grad())
            {
                lossSum.add_(task.detach().to(ScalarType.Float64) * count);
                classified &= teacher is null && IsClassification(output, target);
                if (classified)
                {
                    wrong.add_(output.argmax(1).ne(target).sum());
                }
            }

            seen += count;
            batchIndex++;
            StepFinished?.Invoke(new TrainingStep(epoch + 1, batchIndex, batches, task.ToDouble()));
            if (options.ReportEvery > 0 && batchIndex % options.ReportEvery == 0)
            {
                var elapsed = clock.Elapsed;
                var remaining = TimeSpan.FromSeconds(elapsed.TotalSeconds / batchIndex * Math.Max(0, batches - batchIndex));
                Progress.Batch(epoch + 1, options.Epochs, batchIndex, batches, elapsed, remaining, lossSum.ToDouble() / seen);
            }
        }

        if (seen == 0)
        {
            throw new WatermarkException($"Epoch {epoch + 1} had no batches; the training data must yield at least one (input, target) batch an epoch.");
        }

        return (lossSum.ToDouble() / seen, classified ? wrong.ToInt64() / (double)seen : double.NaN, seen);
    }

    private static bool IsClassification(Tensor output, Tensor target) =>
        output.dim() == 2 && target.dim() == 1 && target.dtype == ScalarType.Int64;

    // The caller's task loss, cross-entropy against class indices, or against the teacher's softmax (targets untouched).
    private Tensor Loss(Tensor output, Tensor input, Tensor target)
    {
        if (teacher is null)
        {
            return TaskLoss is null ? nn.functional.cross_entropy(output, target) : TaskLoss(output, target);
        }

        Tensor soft;
        using (no_grad())
        {
            soft = nn.functional.softmax(teacher.forward(input), 1);
        }

        return -(soft * nn.functional.log_softmax(output, 1)).sum(1).mean();
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

    /// <summary>
    /// Classification error of <paramref name="model"/> over <paramref name="data"/>'s epoch 0 (evaluation
    /// mode, no gradients): the fraction of examples whose arg-max output differs from the class index.
    /// </summary>
    public static double Evaluate(nn.Module<Tensor, Tensor> model, ITrainingData data, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        device ??= CPU;
        var wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            using var wrong = zeros(1, dtype: ScalarType.Int64, device: device);
            long seen = 0;
            using var enumerator = data.Epoch(0, device).GetEnumerator();
            while (true)
            {
                using var scope = NewDisposeScope();
                if (!enumerator.MoveNext())
                {
                    break;
                }

                var (input, target) = enumerator.Current;
                var output = model.forward(input);
                if (!IsClassification(output, target))
                {
                    return double.NaN;
                }

                wrong.add_(output.argmax(1).ne(target).sum());
                seen += target.shape[0];
            }

            return seen == 0 ? double.NaN : wrong.ToInt64() / (double)seen;
        }
        finally
        {
            model.train(wasTraining);
        }
    }
}
