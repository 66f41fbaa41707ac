using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using TorchSharp;
using Watermark.Training;
using WideResNet.Data;
using WideResNet.Memory;
using static TorchSharp.torch;

namespace TrainMemory;

/// <summary>
/// Peak resident memory of training with the library's Trainer (issue #16): CIFAR ResNet-20 (or the
/// sample's WRN) on real CIFAR-10 images through the sample's BatchLoader, SGD with Nesterov momentum
/// and weight decay, an evaluation pass after each epoch. Prints one line per epoch and a summary line
/// that bench/train-memory.sh collects. Each lever of the issue is an option, so that one run changes one thing.
/// </summary>
public static class Program
{
    private const string Usage = """
        TrainMemory options:
          --model resnet20|wrn-10-2   network (default resnet20)
          --batch N                   training batch (default 128)
          --steps N                   training steps per epoch (default 60); the training images repeat as needed
          --epochs N                  epochs (default 2)
          --eval-batch N              evaluation batch over the test set after each epoch (default 256; 0: no evaluation)
          --threads N                 torch threads (default: all cores)
          --data DIR                  CIFAR-10 (cifar-10-batches-bin) or the committed subset (default)
          --keep-freed on|off         the sample's NativeAllocator.KeepFreedMemory (mallopt) (default on)
          --trim on|off               malloc_trim(0) between epochs (the sample's EpochEnding) (default on)
          --loop trainer|bare         the library's Trainer, or forward/backward/step in a bare loop with a dispose scope (default trainer)
          --gc-every N                a full blocking GC every N steps (default 0: never)
          --trace N                   print RSS, its peak and glibc's heap every N steps
          --collect-first on|off      a full compacting GC after loading the data, before training (default off)
          --malloc-stats              print glibc's per-arena statistics (malloc_stats) at the end of each epoch's training
        """;

    public static int Main(string[] args)
    {
        string model = "resnet20", loop = "trainer";
        int batch = 128, steps = 60, epochs = 2, evalBatch = 256, threads = Environment.ProcessorCount, gcEvery = 0, trace = 0;
        bool keepFreed = true, trim = true, mallocStats = false, collectFirst = false;
        string? data = null;
        try
        {
            for (var i = 0; i < args.Length; i++)
            {
                string Text() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"option '{args[i]}' needs a value.");
                int Number()
                {
                    var name = args[i];
                    return int.TryParse(Text(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw new ArgumentException($"option '{name}' needs a whole number.");
                }

                bool OnOff()
                {
                    var name = args[i];
                    return Text() switch { "on" => true, "off" => false, _ => throw new ArgumentException($"option '{name}' is on or off.") };
                }

                switch (args[i])
                {
                    case "--model": model = Text(); break;
                    case "--batch": batch = Number(); break;
                    case "--steps": steps = Number(); break;
                    case "--epochs": epochs = Number(); break;
                    case "--eval-batch": evalBatch = Number(); break;
                    case "--threads": threads = Number(); break;
                    case "--data": data = Text(); break;
                    case "--keep-freed": keepFreed = OnOff(); break;
                    case "--trim": trim = OnOff(); break;
                    case "--loop": loop = Text(); break;
                    case "--gc-every": gcEvery = Number(); break;
                    case "--malloc-stats": mallocStats = true; break;
                    case "--trace": trace = Number(); break;
                    case "--collect-first": collectFirst = OnOff(); break;
                    default: throw new ArgumentException($"unknown option '{args[i]}'.");
                }
            }

            if (model is not ("resnet20" or "wrn-10-2") || loop is not ("trainer" or "bare") || batch <= 0 || steps <= 0 || epochs <= 0 || threads <= 0)
            {
                throw new ArgumentException("bad --model, --loop, or a count that is not positive.");
            }
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            Console.Error.WriteLine(Usage);
            return 2;
        }

        torch.set_num_threads(threads);
        var keeping = keepFreed && NativeAllocator.KeepFreedMemory();
        var folder = data ?? Path.Combine(AppContext.BaseDirectory, "data", "cifar10-subset");
        var (train, test) = File.Exists(Path.Combine(folder, "train.bin.gz")) ? Datasets.Cifar10Subset(folder) : Datasets.Cifar10(folder, download: false);
        var trainSet = Repeat(train, steps * batch);
        if (collectFirst)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }

        var afterLoad = ProcessMemory.ResidentMegabytes();
        var managedAfterLoad = ProcessMemory.ManagedMegabytes();

        torch.manual_seed(1);
        using nn.Module<Tensor, Tensor> net = model == "resnet20" ? new WideResNet.Model.ResNet20() : new WideResNet.Model.WideResNet(10, 2, 10);
        var options = new TrainingOptions { Epochs = epochs, LearningRate = 0.1, Momentum = 0.9, Nesterov = true, WeightDecay = 5e-4, Milestones = [], Seed = 1, ReportEvery = 0 };
        var trainBatches = new BatchLoader(trainSet, batch, shuffle: true, augment: true, seed: 1);
        var testBatches = evalBatch > 0 ? new BatchLoader(test, evalBatch, shuffle: false, augment: false, seed: 0) : null;

        var monitor = new Monitor(gcEvery, trace, mallocStats);
        var name = $"{model} batch {batch} eval {(evalBatch > 0 ? evalBatch.ToString(CultureInfo.InvariantCulture) : "none")} threads {torch.get_num_threads()} keep-freed {(keeping ? "on" : "off")} trim {(trim ? "on" : "off")} loop {loop}{(gcEvery > 0 ? $" gc-every {gcEvery}" : string.Empty)}{(collectFirst ? " collect-first" : string.Empty)} arenas {Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX") ?? "default"}";
        Console.WriteLine($"ours: {name}; {trainSet.Count} training images ({train.Name} repeated), {test.Count} test images; after loading: RSS {afterLoad:F0} MiB, managed {managedAfterLoad:F0} MiB");
        var epochPeaks = new List<double>();
        var trainPeaks = new List<double>();
        var after = new List<double>();
        var clock = Stopwatch.StartNew();
        if (loop == "trainer")
        {
            var trainer = new Trainer(net, options)
            {
                EpochStarting = _ => monitor.StartEpoch(),
                StepFinished = monitor.Step,
                EpochEnding = _ =>
                {
                    if (trim)
                    {
                        NativeAllocator.ReleaseFreeMemory();
                    }
                },
            };
            // The Trainer calls Evaluate after each epoch's last step; the monitor noted the training peak there.
            foreach (var epoch in trainer.Fit(trainBatches, testBatches))
            {
                epochPeaks.Add(epoch.PeakResidentMegabytes);
                after.Add(epoch.ResidentMegabytes);
                trainPeaks.Add(monitor.TrainPeaks[epoch.Epoch - 1]);
                Console.WriteLine(FormattableString.Invariant($"  epoch {epoch.Epoch}: peak {epoch.PeakResidentMegabytes:F0} MiB (training alone {monitor.TrainPeaks[epoch.Epoch - 1]:F0}), after {epoch.ResidentMegabytes:F0} MiB, managed {epoch.ManagedMegabytes:F0} MiB, live tensors at the last step {monitor.LiveAtLastStep[epoch.Epoch - 1]} (max {monitor.MaxLive}), malloc in use at the last step {monitor.InUseAtLastStep[epoch.Epoch - 1]:F0} MiB, test error {epoch.TestError:F3}, {epoch.ImagesPerSecond:F0} images/s"));
            }
        }
        else
        {
            using var optimizer = optim.SGD(net.parameters(), options.LearningRate, options.Momentum, 0, options.WeightDecay, options.Nesterov);
            for (var epoch = 0; epoch < epochs; epoch++)
            {
                monitor.StartEpoch();
                net.train();
                var step = 0;
                foreach (var b in trainBatches.Epoch(epoch))
                {
                    using var scope = NewDisposeScope();
                    using var owned = b;
                    optimizer.zero_grad();
                    var loss = nn.functional.cross_entropy(net.forward(b.Images), b.Labels);
                    loss.backward();
                    optimizer.step();
                    monitor.Step(new TrainingStep(epoch + 1, ++step, trainBatches.BatchesPerEpoch, double.NaN));
                }

                if (testBatches is not null)
                {
                    _ = Trainer.Evaluate(net, testBatches);
                }

                if (trim)
                {
                    NativeAllocator.ReleaseFreeMemory();
                }

                GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                GC.WaitForPendingFinalizers();
                epochPeaks.Add(ProcessMemory.PeakResidentMegabytes());
                after.Add(ProcessMemory.ResidentMegabytes());
                trainPeaks.Add(monitor.TrainPeaks[epoch]);
                Console.WriteLine(FormattableString.Invariant($"  epoch {epoch + 1}: peak {epochPeaks[^1]:F0} MiB (training alone {trainPeaks[^1]:F0}), after {after[^1]:F0} MiB, live tensors at the last step {monitor.LiveAtLastStep[epoch]} (max {monitor.MaxLive}), malloc in use at the last step {monitor.InUseAtLastStep[epoch]:F0} MiB"));
            }
        }

        var seconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine(FormattableString.Invariant($"summary: {name}: peak RSS {epochPeaks.Max():F0} MiB (training {trainPeaks.Max():F0}, per epoch {string.Join("/", epochPeaks.Select(p => p.ToString("F0", CultureInfo.InvariantCulture)))}), after {after[^1]:F0} MiB, process VmHWM {ProcessPeak():F0} MiB, live tensors max {monitor.MaxLive}, malloc in use max {monitor.MaxInUse:F0} MiB, {seconds:F0} s"));
        return 0;
    }

    // The first `count` images of a dataset repeated as often as needed (the committed subset has 2,000).
    private static ImageDataset Repeat(ImageDataset data, int count)
    {
        if (count <= data.Count)
        {
            return data.Take(count);
        }

        var pixels = new byte[(long)count * ImageDataset.ImageBytes];
        var labels = new byte[count];
        for (var i = 0; i < count; i++)
        {
            data.Image(i % data.Count).CopyTo(pixels.AsSpan(i * ImageDataset.ImageBytes, ImageDataset.ImageBytes));
            labels[i] = data.Labels[i % data.Count];
        }

        return new ImageDataset(pixels, labels, data.Classes, $"{data.Name}×{(count + data.Count - 1) / data.Count}");
    }

    // VmHWM is reset at every epoch's start; the process's own peak since start is not kept apart by Linux,
    // so this is the last epoch's (the loading peak is printed at the start instead).
    private static double ProcessPeak() => ProcessMemory.PeakResidentMegabytes();

    private sealed class Monitor(int gcEvery, int trace, bool mallocStats)
    {
        public List<double> TrainPeaks { get; } = [];

        public List<long> LiveAtLastStep { get; } = [];

        public List<double> InUseAtLastStep { get; } = [];

        public long MaxLive { get; private set; }

        public double MaxInUse { get; private set; }

        public int EpochsStarted { get; private set; }

        public void StartEpoch()
        {
            EpochsStarted++;
            ProcessMemory.ResetPeak();
        }

        public void Step(TrainingStep step)
        {
            if (gcEvery > 0 && step.Batch % gcEvery == 0)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }

            var live = torch.Tensor.TotalCount;
            var (inUse, heap) = Malloc();
            if (trace > 0 && step.Batch % trace == 0)
            {
                Console.WriteLine(FormattableString.Invariant($"    step {step.Batch}: RSS {ProcessMemory.ResidentMegabytes():F0} MiB, peak {ProcessMemory.PeakResidentMegabytes():F0} MiB, malloc heap {heap:F0} MiB of which in use {inUse:F0} MiB, live tensors {live}"));
            }

            MaxLive = Math.Max(MaxLive, live);
            MaxInUse = Math.Max(MaxInUse, inUse);
            if (step.Batch == step.BatchesPerEpoch)
            {
                TrainPeaks.Add(ProcessMemory.PeakResidentMegabytes());
                LiveAtLastStep.Add(live);
                InUseAtLastStep.Add(inUse);
                if (mallocStats)
                {
                    Console.Out.Flush();
                    Console.Error.WriteLine($"malloc_stats after epoch {step.Epoch}'s training:");
                    MallocStats();
                }
            }
        }
    }

    // glibc's mallinfo2, all arenas: bytes handed out by malloc (uordblks) plus those in mmap'ed blocks
    // (hblkhd), and the heap glibc holds (arena, free parts included) plus the mmap'ed blocks.
    private static (double InUse, double Heap) Malloc()
    {
        if (!OperatingSystem.IsLinux())
        {
            return (0, 0);
        }

        try
        {
            var info = MallInfo2();
            const double MiB = 1024 * 1024;
            return ((info.Uordblks + info.Hblkhd) / MiB, (info.Arena + info.Hblkhd) / MiB);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return (0, 0);
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo2Result
    {
        public nuint Arena;
        public nuint Ordblks;
        public nuint Smblks;
        public nuint Hblks;
        public nuint Hblkhd;
        public nuint Usmblks;
        public nuint Fsmblks;
        public nuint Uordblks;
        public nuint Fordblks;
        public nuint Keepcost;
    }

    [DllImport("libc", EntryPoint = "mallinfo2", ExactSpelling = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern MallInfo2Result MallInfo2();

    [DllImport("libc", EntryPoint = "malloc_stats", ExactSpelling = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern void MallocStats();
}
