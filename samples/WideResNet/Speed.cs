using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using TorchSharp;
using Watermark;
using WideResNet.Data;
using WideResNet.Memory;
using Watermark.Training;
using static TorchSharp.torch;

namespace WideResNet;

/// <summary>
/// Times WRN-d-k training steps at batch 64 with the library's <see cref="Trainer"/> on real CIFAR-10
/// images (per-sample crop and flip, prefetched batches, SGD with Nesterov momentum and weight decay):
/// without a mark, with a 256-bit mark in conv2, and the data loader alone. bench/train-speed.sh runs
/// it beside the same steps in PyTorch.
/// </summary>
internal static class Speed
{
    public const string Usage = """
        speed options:
          --depth N --widen K  the network (default WRN-10-4, the paper's)
          --steps N            timed steps of 64 images (default 20), after --warmup N (default 3)
          --epoch              time one full pass over the training set instead
          --data DIR           CIFAR-10 folder (default: the committed 2,000-image subset)
          --threads N          torch CPU threads (default: all cores)
        """;

    internal static int Run(string[] args)
    {
        int depth = 10, widen = 4, steps = 20, warmup = 3, threads = Environment.ProcessorCount;
        var epoch = false;
        string? data = null;
        try
        {
            for (var i = 0; i < args.Length; i++)
            {
                int Number() => i + 1 < args.Length && int.TryParse(args[++i], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new ArgumentException($"option '{args[i - 1]}' needs a positive integer.");
                switch (args[i])
                {
                    case "--depth": depth = Number(); break;
                    case "--widen": widen = Number(); break;
                    case "--steps": steps = Number(); break;
                    case "--warmup": warmup = Number(); break;
                    case "--threads": threads = Number(); break;
                    case "--epoch": epoch = true; break;
                    case "--data": data = i + 1 < args.Length ? args[++i] : throw new ArgumentException("option '--data' needs a folder."); break;
                    default: throw new ArgumentException($"unknown option '{args[i]}'.");
                }
            }
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            Console.Error.WriteLine(Usage);
            return 2;
        }

        torch.set_num_threads(threads);
        ImageDataset train;
        try
        {
            // The committed subset's layout (train.bin.gz), or CIFAR-10's own.
            var subset = data ?? Path.Combine(AppContext.BaseDirectory, "data", "cifar10-subset");
            train = File.Exists(Path.Combine(subset, "train.bin.gz")) ? Datasets.Cifar10Subset(subset).Train : Datasets.Cifar10(data, download: false).Train;
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }

        var timed = epoch ? train.Count : steps * 64;
        if (warmup * 64 > train.Count || timed > train.Count)
        {
            Console.Error.WriteLine($"error: {warmup} + {steps} steps need more than the {train.Count} images of {train.Name}; pass --data with the full CIFAR-10.");
            return 2;
        }

        torch.manual_seed(1);
        using var model = new Model.WideResNet(depth, widen, 10);
        var options = new TrainingOptions { Epochs = 1, LearningRate = 0.1, Momentum = 0.9, Nesterov = true, WeightDecay = 5e-4, Milestones = [], Seed = 1, ReportEvery = 0 };
        var quiet = new ProgressDisplay(TextWriter.Null);
        SampleTraining.Trainer(model, options, progress: quiet).Fit(train.Take(warmup * 64), null, options);

        var plain = SampleTraining.Trainer(model, options, progress: quiet).Fit(train.Take(timed), null, options)[0];
        var raw = RawLoop(model, options, train.Take(timed));
        var slot = model.GetWatermarkSlots().Single(s => s.Parameter == Model.WideResNet.HostParameter(2));
        var keyring = new Keyring(slot.CreateKey());
        var marked = SampleTraining.Trainer(model, options, new WatermarkRegularizer(keyring, model), progress: quiet).Fit(train.Take(timed), null, options)[0];

        var loader = new BatchLoader(train.Take(timed), 64, shuffle: true, augment: true, seed: 1);
        var clock = Stopwatch.StartNew();
        var images = 0;
        foreach (var batch in loader.Epoch(0))
        {
            images += (int)batch.Labels.shape[0];
            batch.Dispose();
        }

        var loading = images / clock.Elapsed.TotalSeconds;
        var name = $"torchsharp {typeof(torch).Assembly.GetName().Version?.ToString(3)}";
        Console.WriteLine(FormattableString.Invariant($"{name}: {1000 * 64 / plain.ImagesPerSecond:F0} ms per step, {plain.ImagesPerSecond:F0} images/s, threads {torch.get_num_threads()} (WRN-{depth}-{widen}, {timed} images)"));
        Console.WriteLine(FormattableString.Invariant($"{name}, the bare loop (no Trainer, no metrics): {1000 * 64 / raw.ImagesPerSecond:F0} ms per step, {raw.ImagesPerSecond:F0} images/s: forward {raw.Forward:F0} ms, backward {raw.Backward:F0} ms, SGD step {raw.Step:F1} ms"));
        Console.WriteLine(FormattableString.Invariant($"{name} with a 256-bit mark in conv2: {1000 * 64 / marked.ImagesPerSecond:F0} ms per step, {marked.ImagesPerSecond:F0} images/s ({100 * (plain.ImagesPerSecond / marked.ImagesPerSecond - 1):+0.0;-0.0}% step time)"));
        Console.WriteLine(FormattableString.Invariant($"data loading alone: {loading:F0} images/s, {loading / plain.ImagesPerSecond:F1}x what training consumes; RSS {marked.ResidentMegabytes:F0} MiB; glibc keeps freed memory: {(NativeAllocator.KeepFreedMemory() ? "yes" : "no")}"));
        return 0;
    }

    // The step and nothing else, on the same batches: what the Trainer's bookkeeping costs, and where a
    // step's time goes (CPU ops are synchronous, so a clock around each phase measures it).
    private static (double ImagesPerSecond, double Forward, double Backward, double Step) RawLoop(Model.WideResNet model, TrainingOptions o, ImageDataset data)
    {
        using var optimizer = optim.SGD(model.parameters(), o.LearningRate, o.Momentum, 0, o.WeightDecay, o.Nesterov);
        var loader = SampleTraining.TrainBatches(data, o);
        model.train();
        var images = 0;
        var steps = 0;
        var clock = Stopwatch.StartNew();
        TimeSpan forward = default, backward = default, step = default;
        foreach (var batch in loader.Epoch(0))
        {
            using var scope = NewDisposeScope();
            using var owned = batch;
            var t0 = clock.Elapsed;
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(model.forward(batch.Images), batch.Labels);
            var t1 = clock.Elapsed;
            loss.backward();
            var t2 = clock.Elapsed;
            optimizer.step();
            var t3 = clock.Elapsed;
            (forward, backward, step) = (forward + (t1 - t0), backward + (t2 - t1), step + (t3 - t2));
            images += (int)batch.Labels.shape[0];
            steps++;
        }

        return (images / clock.Elapsed.TotalSeconds, forward.TotalMilliseconds / steps, backward.TotalMilliseconds / steps, step.TotalMilliseconds / steps);
    }
}
