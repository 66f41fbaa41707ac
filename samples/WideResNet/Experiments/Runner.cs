using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using TorchSharp;
using Watermark;
using WideResNet.Data;
using Watermark.Training;
using static TorchSharp.torch;

namespace WideResNet.Experiments;

/// <summary>One training of the host network: from scratch or from another run's weights, with or without the mark.</summary>
/// <param name="Name">Folder name under the runs folder; runs with the same name are reused.</param>
/// <param name="Seed">Seed of initialisation, shuffling and augmentation.</param>
/// <param name="Dataset"><c>cifar10</c> or <c>caltech101</c>.</param>
/// <param name="Embed">Whether λ·E_R is added to the loss.</param>
/// <param name="Kind">The key kind (also used to measure E_R and BER of unmarked runs).</param>
/// <param name="Group">2, 3 or 4: which group's second conv hosts the mark.</param>
/// <param name="Bits">T.</param>
/// <param name="Strength">λ.</param>
/// <param name="StartFrom">A finished run whose weights initialise this one (fine-tuning), or null.</param>
/// <param name="NewHead">Start from <paramref name="StartFrom"/> but with a fresh classifier (other domain).</param>
/// <param name="Teacher">A finished run whose soft predictions replace the labels (distillation), or null.</param>
/// <param name="KeySeed">Seed the key is derived from (default: <paramref name="Seed"/>); runs that share it share the key.</param>
/// <param name="HostWeightDecay">Weight decay of the host weight when it differs from the preset's (<see cref="TrainingOptions.HostWeightDecay"/>).</param>
/// <param name="Epochs">A run's own, shorter length (milestones scaled), e.g. the many null models of <see cref="AlignNull"/>; null: the preset's (or <c>--epochs</c>).</param>
/// <param name="TrainImages">Train on the first this many training images only (a short run); null: all.</param>
/// <param name="TestImages">Test on the first this many test images only; null: all.</param>
/// <param name="Network"><see cref="Wrn"/> (the preset's WRN, the paper's) or <see cref="ResNet20"/> (He et al.'s post-activation CIFAR ResNet-20, marked in <see cref="ResNet20Host"/>).</param>
/// <param name="Groups">Several WRN groups that each carry a slot of one keyring, e.g. "2,3,4" (<see cref="Multilayer"/>); null: <paramref name="Group"/> alone.</param>
internal sealed record RunSpec(string Name, ulong Seed, string Dataset, bool Embed, KeyKind Kind = KeyKind.Random, int Group = 2, int Bits = 256, double Strength = 0.01, string? StartFrom = null, bool NewHead = false, string? Teacher = null, ulong? KeySeed = null, double? HostWeightDecay = null, int? Epochs = null, int? TrainImages = null, int? TestImages = null, string Network = RunSpec.Wrn, string? Groups = null)
{
    /// <summary>The WRN groups whose conv2 carries a slot: <see cref="Groups"/> ("2,3,4": one keyring, a slot in each) or <see cref="Group"/> alone.</summary>
    public int[] MarkedGroups() => Groups is null ? [Group] : [.. Groups.Split(',').Select(int.Parse)];

    public const string Wrn = "wrn";

    public const string ResNet20 = "resnet20";

    /// <summary>
    /// ResNet-20's host: the first conv of stage 3's second block, [64, 64, 3, 3] (M = 576, as the WRN-10-2's conv3).
    /// It is followed by bn1 and a ReLU (post-activation), so its output filters can be permuted, rescaled and
    /// sign-flipped through the batch norm without changing the function.
    /// </summary>
    public const string ResNet20Host = "layer3.1.conv1.weight";
}

/// <summary>What a run produced; stored as run.json beside model.dat.</summary>
internal sealed record RunResult(
    RunSpec Spec,
    string Preset,
    string Network,
    string Situation,
    List<EpochMetrics> History,
    double TestError,
    double EmbeddingLoss,
    double BitErrorRate,
    int Matched,
    string PValue,
    double PValueLog10,
    double WallSeconds,
    double ImagesPerSecond,
    double[] Projection);

/// <summary>Trains, caches and reloads runs of one settings/preset.</summary>
internal sealed class Runner(Settings settings)
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };
    private (ImageDataset Train, ImageDataset Test)? cifar;
    private (ImageDataset Train, ImageDataset Test)? caltech;

    public Settings Settings => settings;

    public static void WriteJson<T>(string path, T value) =>
        AtomicFile.Write(path, s => JsonSerializer.Serialize(s, value, Json));

    public static T ReadJson<T>(string path) =>
        JsonSerializer.Deserialize<T>(File.ReadAllBytes(path), Json) ?? throw new InvalidDataException($"{path} is empty.");

    private (ImageDataset Train, ImageDataset Test) Data(string dataset)
    {
        var data = dataset switch
        {
            "cifar10" => cifar ??= Datasets.Cifar10(settings.Data, log: Console.Out),
            "caltech101" => caltech ??= Datasets.Caltech101(settings.Data),
            _ => throw new ArgumentException($"unknown dataset {dataset}"),
        };
        return settings.Limit is { } n ? (data.Train.Take(n), data.Test.Take(n)) : data;
    }

    public ImageDataset CifarTrain => Data("cifar10").Train;

    public ImageDataset CifarTest => Data("cifar10").Test;

    /// <summary>
    /// The key of a slot, derived from the run seed so an experiment repeats exactly. Real keys come
    /// from the CSPRNG (<see cref="WatermarkKey.Create(string, IReadOnlyList{long}, int, KeyKind, Message?, double, Whitening?, bool, BchCode?)"/>).
    /// The message is the paper's all ones, without whitening.
    /// </summary>
    public WatermarkKey KeyFor(RunSpec spec)
    {
        if (spec.Network == RunSpec.ResNet20)
        {
            var bytes = SHA256.HashData(Encoding.UTF8.GetBytes($"resnet20-experiment-key|{spec.KeySeed ?? spec.Seed}|{spec.Kind}|{spec.Bits}"));
            return WatermarkKey.Create(RunSpec.ResNet20Host, [64, 64, 3, 3], spec.Bits, spec.Kind, Message.AllOnes, spec.Strength, Whitening.None, allowOverCapacity: true, SecretSeed.FromBytes(bytes));
        }

        var width = settings.Preset.Widen * 16 * (1 << (spec.Group - 2));
        var seed = SHA256.HashData(Encoding.UTF8.GetBytes($"wrn-experiment-key|{spec.KeySeed ?? spec.Seed}|{spec.Kind}|{spec.Group}|{spec.Bits}"));
        return WatermarkKey.Create(Model.WideResNet.HostParameter(spec.Group), [width, width, 3, 3], spec.Bits, spec.Kind, Message.AllOnes, spec.Strength, Whitening.None, allowOverCapacity: true, SecretSeed.FromBytes(seed));
    }

    /// <summary>
    /// The keyring of a run: <see cref="KeyFor"/> of each of its <see cref="RunSpec.MarkedGroups"/>, so the slot in conv<i>g</i>
    /// of a run marked in several groups is the key a run marked in conv<i>g</i> alone would get from the same seed.
    /// </summary>
    public Keyring KeyringFor(RunSpec spec) =>
        spec.Groups is null ? new Keyring(KeyFor(spec)) : new Keyring(spec.MarkedGroups().Select(g => KeyFor(spec with { Group = g, Groups = null })));

    /// <summary>E_R (without λ) and the extracted slot of <paramref name="key"/> on <paramref name="model"/>.</summary>
    public static (double EmbeddingLoss, SlotVerification Slot) Measure(nn.Module model, WatermarkKey key)
    {
        var host = Host(model, key.Parameter);
        using var noGrad = no_grad();
        return (EmbeddingLoss.Compute(host, key).ToDouble(), key.Extract(host));
    }

    /// <summary>
    /// <paramref name="run"/> with E_R, BER and p measured with <paramref name="key"/> instead of its own key
    /// (an unmarked run against the key of the marked one: the null case).
    /// </summary>
    public RunResult Measure(RunResult run, WatermarkKey key)
    {
        using var model = Load(run.Spec);
        var (er, slot) = Measure(model, key);

        return run with { EmbeddingLoss = er, BitErrorRate = slot.BitErrorRate, Matched = slot.Matched, PValue = slot.PValue.ToString(), PValueLog10 = slot.PValue.Log10, Projection = [.. slot.Projection] };
    }

    /// <summary>The parameter <paramref name="name"/> (e.g. a key's host, <c>g2.block0.conv2.weight</c>) of <paramref name="model"/>.</summary>
    public static TorchSharp.Modules.Parameter Host(nn.Module model, string name) =>
        model.get_parameter(name) ?? throw new InvalidOperationException($"{model.GetName()} has no parameter '{name}'.");

    public string Folder(string name) => Path.Combine(settings.RunsFolder, name);

    /// <summary>The finished run <paramref name="spec"/>'s network, with its dataset's classifier head.</summary>
    public Model.WideResNet Load(RunSpec spec) => Load(spec.Name, spec.Dataset == "caltech101" ? 101 : 10);

    public Model.WideResNet Load(string name, int classes = 10)
    {
        var model = new Model.WideResNet(settings.Preset.Depth, settings.Preset.Widen, classes);
        model.load(Path.Combine(Folder(name), "model.dat"));
        return model;
    }

    /// <summary>
    /// A fresh network of <paramref name="network"/> (<see cref="RunSpec.Wrn"/> at the preset's size, or
    /// <see cref="RunSpec.ResNet20"/>), with other widths between some blocks' two convs where <paramref name="inner"/> says.
    /// </summary>
    public nn.Module<Tensor, Tensor> Create(string network, int classes = 10, IReadOnlyDictionary<string, long>? inner = null) => network switch
    {
        RunSpec.Wrn => new Model.WideResNet(settings.Preset.Depth, settings.Preset.Widen, classes, inner),
        RunSpec.ResNet20 => new Model.ResNet20(classes, inner: inner),
        _ => throw new ArgumentException($"unknown network '{network}'", nameof(network)),
    };

    /// <summary>How many epochs <paramref name="spec"/> trains (its own length if it has one; Caltech-101 runs get the preset's own count).</summary>
    public int Epochs(RunSpec spec) => spec.Epochs ?? settings.Preset.EpochsOn(spec.Dataset, settings.Epochs);

    // The weights a run starts from or distils: a run is trained again when one of them is newer than it.
    private IEnumerable<string> Prerequisites(RunSpec spec) =>
        new[] { spec.StartFrom, spec.Teacher }.Where(n => n is not null).Select(n => Path.Combine(Folder(n!), "model.dat"));

    /// <summary>The run's result: read from its folder when finished before, else trained now (resuming a checkpoint).</summary>
    public RunResult Get(RunSpec spec)
    {
        var folder = Folder(spec.Name);
        var resultPath = Path.Combine(folder, "run.json");
        if (File.Exists(resultPath))
        {
            var cached = ReadJson<RunResult>(resultPath);
            var finished = File.GetLastWriteTimeUtc(resultPath);
            var stale = Prerequisites(spec).FirstOrDefault(p => File.Exists(p) && File.GetLastWriteTimeUtc(p) > finished);
            if (cached.Spec == spec && cached.History.Count == Epochs(spec) && stale is null)
            {
                Console.WriteLine($"[{spec.Name}] reused from {resultPath}");
                return cached;
            }

            Console.WriteLine(stale is not null
                ? $"[{spec.Name}] {stale} was trained again after this run; training again"
                : $"[{spec.Name}] settings changed ({cached.History.Count} epochs before, {Epochs(spec)} now, or another spec); training again");
        }

        foreach (var file in Prerequisites(spec))
        {
            if (!File.Exists(file))
            {
                throw new InvalidOperationException($"run '{spec.Name}' needs '{file}': run the experiment that trains it first.");
            }
        }

        Directory.CreateDirectory(folder);
        var (train, test) = Data(spec.Dataset);
        if (spec.TrainImages is { } images && images < train.Count)
        {
            train = train.Take(images);
        }

        if (spec.TestImages is { } tested && tested < test.Count)
        {
            test = test.Take(tested);
        }

        torch.manual_seed((long)spec.Seed);
        using var model = Create(spec.Network, train.Classes);
        if (spec.StartFrom is not null)
        {
            var skip = spec.NewHead ? new[] { "fc.weight", "fc.bias" } : [];
            model.load(Path.Combine(Folder(spec.StartFrom), "model.dat"), strict: !spec.NewHead, skip: skip);
        }

        var keyring = KeyringFor(spec);
        WatermarkRegularizer? regularizer = null;
        if (spec.Embed)
        {
            keyring.Save(Path.Combine(folder, "key.json"), overwrite: true); // a retrained run gets a new key
            regularizer = new WatermarkRegularizer(keyring, model);
        }

        using var teacher = spec.Teacher is null ? null : Load(spec.Teacher);
        var situation = spec.Teacher is not null ? "distill" : spec.StartFrom is not null ? "fine-tune" : "train";
        Console.WriteLine($"[{spec.Name}] {situation} {model.GetName()} on {train.Name} ({train.Count} images), {(spec.Embed ? $"embedding {spec.Bits} bits ({spec.Kind}) in {string.Join(" and ", keyring.Slots.Select(k => k.Parameter))}, λ = {spec.Strength}" : "no watermark")}, seed {spec.Seed}, preset {settings.Preset.Name}");
        var clock = Stopwatch.StartNew();
        var options = settings.Preset.Options(spec.Seed, Epochs(spec)) with { HostWeightDecay = spec.HostWeightDecay };
        var device = settings.Device == "cuda" ? CUDA : CPU;
        if (device.type == DeviceType.CUDA && !cuda.is_available())
        {
            throw new InvalidOperationException("--device cuda: TorchSharp reports no CUDA device; build with -p:WatermarkTorchBackend=cuda on a machine with a GPU.");
        }

        var history = SampleTraining.Trainer(model, options, regularizer, teacher, device, Path.Combine(folder, "checkpoint.ckpt"), new ProgressDisplay(Console.Out))
            .Fit(train, test, options);
        var wall = clock.Elapsed.TotalSeconds;

        var modelPath = Path.Combine(folder, "model.dat");
        var temporary = modelPath + ".tmp";
        model.cpu();
        model.save(temporary);
        File.Move(temporary, modelPath, overwrite: true);
        var slots = keyring.Slots.Select(k => Measure(model, k)).ToArray();
        var measured = new VerificationResult(slots.Select(m => m.Slot)); // one slot: that slot's own numbers

        var result = new RunResult(spec, settings.Preset.Name, model.GetName(), situation, [.. history], history[^1].TestError, slots.Sum(m => m.EmbeddingLoss), measured.BitErrorRate, measured.Matched, measured.PValue.ToString(), measured.PValue.Log10, wall, history.Sum(h => train.Count) / history.Sum(h => h.Seconds), [.. slots.SelectMany(m => m.Slot.Projection)]);
        WriteJson(resultPath, result);
        File.Delete(Path.Combine(folder, "checkpoint.ckpt"));
        Console.WriteLine($"[{spec.Name}] test error {100 * result.TestError:F2}%, E_R {result.EmbeddingLoss:F4}, BER {result.BitErrorRate:F3}, p = {result.PValue}, {wall / 60:F1} min");
        return result;
    }
}
