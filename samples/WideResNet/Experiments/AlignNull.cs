using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using TorchSharp;
using Watermark;
using Watermark.Alignment;
using Watermark.Attacks;
using Watermark.Formats;

namespace WideResNet.Experiments;

/// <summary>
/// One model checked against the owner's reference with <c>watermark verify --reference</c>'s core
/// (<see cref="ReferenceVerification.Verify"/>): the plain bits, the bits after alignment, and how
/// confident the alignment is.
/// </summary>
/// <param name="Group">Which set it belongs to (<see cref="AlignNull.Positive"/> for the reference's own copies; every other group is a null model).</param>
/// <param name="Model">The run or file.</param>
/// <param name="Detail">How it came about (training length and test error, attack).</param>
/// <param name="Signatures"><c>host</c> (host weights alone) or <c>host + producer</c> (g2.block0.conv1 and bn2 as producer signature).</param>
/// <param name="Bits">T.</param>
/// <param name="PlainMatched">Bits matching the message, read as the file is.</param>
/// <param name="PlainBer">Their bit error rate.</param>
/// <param name="PlainLog10P">log10 of their binomial p-value.</param>
/// <param name="AlignedMatched">Bits matching after alignment to the reference.</param>
/// <param name="AlignedBer">Their bit error rate.</param>
/// <param name="AlignedLog10P">log10 of the binomial p-value the extractor gives them.</param>
/// <param name="Confident">Whether the alignment is confident (mean input and output cosines ≥ the threshold).</param>
/// <param name="MeanInputCosine">Mean cosine of the matched input slices.</param>
/// <param name="MeanOutputCosine">Mean cosine of the matched filters.</param>
/// <param name="WeightCosine">Cosine of the whole weights after alignment.</param>
/// <param name="Present">The verdict <c>watermark verify --reference</c> gives (alpha 1e-6).</param>
internal sealed record AlignedRow(string Group, string Model, string Detail, string Signatures, int Bits, int PlainMatched, double PlainBer, double PlainLog10P, int AlignedMatched, double AlignedBer, double AlignedLog10P, bool Confident, double MeanInputCosine, double MeanOutputCosine, double WeightCosine, bool Present);

/// <summary>
/// Issue #17: the null after alignment. Aligning a suspect to the marked reference maximises its
/// similarity to a model that carries the mark, so an independent model could pick up part of the
/// mark's signs. This measures it on models that never saw the reference's key — random
/// initialisations, short trainings without a key, short trainings with other keys — each checked
/// against the reference like a suspect, beside the reference's own function-preserving copies.
/// </summary>
internal sealed class AlignNull() : Experiment("alignnull", "the null after alignment: models that never saw the key, aligned to the marked reference (verify --reference)")
{
    public const string Positive = "positive: copies of the reference";
    public const string RandomInit = "random initialisations (untrained)";
    public const string Trained = "trained without a key";
    public const string OtherKeys = "trained with other keys";
    public const string TrainedLong = "trained as long as the reference (10 epochs, 50,000 images)";
    public const string OtherNetwork = "another network's layers of the host's shape (ResNet-20's convs of that shape)";

    /// <summary>Seeds of the untrained WRNs.</summary>
    public static IEnumerable<ulong> InitSeeds => Enumerable.Range(100, 20).Select(s => (ulong)s);

    /// <summary>Length of the null trainings: short, since there are many on 2 shared cores; they need a task-shaped layer, not accuracy.</summary>
    public const int NullEpochs = 1;

    /// <summary>The training images of a null training: one epoch is 100 SGD steps of 64 (what 2 heavily shared cores allowed for eight runs).</summary>
    public const int NullImages = 6400;

    /// <summary>The trained null runs, alternating the two groups so that a cut-short run leaves both populated.</summary>
    public static IReadOnlyList<RunSpec> NullRuns { get; } =
    [
        Runs.ShortNone(2, NullEpochs, NullImages), Runs.ShortMarked(7, NullEpochs, NullImages),
        Runs.ShortNone(3, NullEpochs, NullImages), Runs.ShortMarked(8, NullEpochs, NullImages),
        Runs.ShortNone(4, NullEpochs, NullImages), Runs.ShortMarked(9, NullEpochs, NullImages),
        Runs.ShortNone(5, NullEpochs, NullImages), Runs.ShortNone(6, NullEpochs, NullImages),
    ];

    /// <summary>Null runs with the reference's own schedule: one without a key, one marked with another key.</summary>
    public static IReadOnlyList<RunSpec> LongRuns(ulong seed) => [Runs.None(seed + 1), Runs.Marked(seed + 2)];

    /// <summary>Seeds of the untrained ResNet-20s whose layers of the host's shape are null models.</summary>
    public static IEnumerable<ulong> ResNetSeeds => Enumerable.Range(100, 5).Select(s => (ulong)s);

    /// <summary>The producer of the host's input channels: conv1 of the block and the batch norm before the host's ReLU.</summary>
    public static ProducerNames Producer { get; } = new("g2.block0.conv1.weight", "g2.block0.bn2");

    public override ExperimentResult Run(Runner runner, string command)
    {
        var marked = runner.Get(Runs.Marked(runner.Settings.Seed));
        var referencePath = Path.Combine(runner.Folder(marked.Spec.Name), "model.dat");
        var keyring = Keyring.Load(Path.Combine(runner.Folder(marked.Spec.Name), "key.json"));
        var runs = new List<RunResult> { marked };

        // The trainings first: they are the slow part, and cached.
        var trained = NullRuns.Select(runner.Get).ToList();
        runs.AddRange(trained);
        var trainedLong = LongRuns(runner.Settings.Seed).Select(runner.Get).ToList();
        runs.AddRange(trainedLong);
        var resnet = runner.Get(Runs.MarkedResNet20(runner.Settings.Seed));
        runs.Add(resnet);

        var reference = ModelFile.Open(referencePath);
        var rows = new List<AlignedRow>();
        void Check(string group, string model, string detail, string path, bool withProducer = true)
        {
            var suspect = ModelFile.Open(path);
            foreach (var producers in withProducer ? new[] { false, true } : [false])
            {
                var options = producers
                    ? new ReferenceOptions { Producers = new Dictionary<string, ProducerNames>(StringComparer.Ordinal) { [keyring.Slots[0].Parameter] = Producer } }
                    : ReferenceOptions.Default;
                var r = keyring.Verify(suspect, reference, VerificationResult.DefaultAlpha, options);
                var a = r.Alignments[0];
                var plain = r.Plain ?? throw new InvalidOperationException($"{path}: {r.PlainUnusable}");
                var row = new AlignedRow(group, model, detail, producers ? "host + producer" : "host", plain.Bits, plain.Matched, plain.BitErrorRate, plain.PValue.Log10, r.Aligned.Matched, r.Aligned.BitErrorRate, r.Aligned.PValue.Log10, r.IsConfident, a.MeanInputCosine, a.MeanOutputCosine, a.WeightCosine, r.IsPresent);
                rows.Add(row);
                Console.WriteLine(FormattableString.Invariant($"{model,-34} {row.Signatures,-15} plain {row.PlainMatched}/{row.Bits} (log10 p {row.PlainLog10P:F1})  aligned {row.AlignedMatched}/{row.Bits} (log10 p {row.AlignedLog10P:F1})  cos {row.MeanInputCosine:F3}/{row.MeanOutputCosine:F3}  {(row.Confident ? "confident" : "not confident")}  {(row.Present ? "PRESENT" : "absent")}"));
            }
        }

        // Positives: the reference as the thief leaves it.
        int width;
        using (var probe = runner.Load(marked.Spec.Name))
        {
            width = (int)Runner.Host(probe, keyring.Slots[0].Parameter).shape[0];
        }

        (string, int)[] channels = [("g2.block0.conv1.weight", 0), ("g2.block0.bn2.weight", 0), ("g2.block0.bn2.bias", 0), ("g2.block0.bn2.running_mean", 0), ("g2.block0.bn2.running_var", 0), ("g2.block0.conv2.weight", 1)];
        void Permute(Model.WideResNet m) => FunctionPreserving.PermuteChannels(m, channels, ChannelPermutation.Random(width, 1));
        void Rescale(Model.WideResNet m) => Robustness.RescaleConv2(m, ChannelScaling.Random(width, 20, seed: 1));
        var fineTuned = Runs.FineTuneAttack(runner.Settings.Seed, marked.Spec);
        var positives = new (string Name, string Detail, string Run, Action<Model.WideResNet> Attack)[]
        {
            ("reference", "the marked model itself", marked.Spec.Name, _ => { }),
            ("permuted", "conv2's input channels permuted with conv1 and bn2 (seed 1)", marked.Spec.Name, Permute),
            ("rescaled", "conv2's input channels rescaled by [1/20, 20] through bn2 (seed 1)", marked.Spec.Name, Rescale),
            ("permuted + rescaled", "both", marked.Spec.Name, m => { Permute(m); Rescale(m); }),
            ("fine-tuned", $"{fineTuned.Name}: 10 epochs on CIFAR-10 without the regularizer, lr 0.1", fineTuned.Name, _ => { }),
            ("fine-tuned, permuted + rescaled", "the fine-tuned copy, then both", fineTuned.Name, m => { Permute(m); Rescale(m); }),
        };
        var copies = Path.Combine(runner.Settings.RunsFolder, "alignnull-files");
        Directory.CreateDirectory(copies);
        foreach (var (name, detail, run, attack) in positives)
        {
            if (!File.Exists(Path.Combine(runner.Folder(run), "model.dat")))
            {
                Console.WriteLine($"[{name}] skipped: {run} is not trained (run table8 first)");
                continue;
            }

            var path = Path.Combine(copies, $"positive-{name.Replace(' ', '-').Replace(",", string.Empty, StringComparison.Ordinal).Replace("+", "and", StringComparison.Ordinal)}.dat");
            using (var model = runner.Load(run))
            {
                attack(model);
                model.save(path);
            }

            Check(Positive, name, detail, path);
        }

        // Null models: random initialisations (what the runner's torch.manual_seed(seed) gives before training).
        foreach (var seed in InitSeeds)
        {
            var path = Path.Combine(copies, $"wrn-init-s{seed}.dat");
            torch.manual_seed((long)seed);
            using (var model = new Model.WideResNet(runner.Settings.Preset.Depth, runner.Settings.Preset.Widen, 10))
            {
                model.save(path);
            }

            Check(RandomInit, $"wrn-init-s{seed}", "untrained WRN (Kaiming-normal convs, fresh batch norms)", path);
        }

        string ModelOf(RunResult run) => Path.Combine(runner.Folder(run.Spec.Name), "model.dat");
        string Detail(RunResult run, string key) => string.Create(CultureInfo.InvariantCulture, $"{run.History.Count} epochs ({run.WallSeconds / 60:F0} min), test error {100 * run.TestError:F1}%{key}");
        foreach (var run in trained)
        {
            Check(run.Spec.Embed ? OtherKeys : Trained, run.Spec.Name, Detail(run, run.Spec.Embed ? string.Create(CultureInfo.InvariantCulture, $", own key's BER {run.BitErrorRate:0.000}") : string.Empty), ModelOf(run));
        }

        foreach (var run in trainedLong)
        {
            Check(TrainedLong, run.Spec.Name, Detail(run, run.Spec.Embed ? string.Create(CultureInfo.InvariantCulture, $", its own key's BER {run.BitErrorRate:0.000}") : ", no key"), ModelOf(run));
        }

        // Another architecture: every conv of the host's shape in ResNet-20 (stage 2's for WRN-10-2's g2 host), put alone into a file under the
        // host's name, as a thief who grafts a layer would; the host weight only (ResNet-20 has no such producer).
        var host = keyring.Slots[0];
        void CheckLayers(string model, string detail, string source)
        {
            var file = ModelFile.Open(source);
            foreach (var layer in file.Tensors.Where(t => t.Shape.SequenceEqual(host.Shape)))
            {
                var path = Path.Combine(copies, $"{model}-{layer.Name}.dat");
                ModelFile.Write(path, ModelFormat.TorchSharpDat, [new StoredTensor(host.Parameter, layer.Shape, layer.DType, file.ReadBytes(layer))], replace: true);
                Check(OtherNetwork, $"{model} {layer.Name}", detail, path, withProducer: false);
            }
        }

        foreach (var seed in ResNetSeeds)
        {
            var path = Path.Combine(copies, $"resnet20-init-s{seed}.dat");
            torch.manual_seed((long)seed);
            using (var model = new Model.ResNet20())
            {
                model.save(path);
            }

            CheckLayers($"resnet20-init-s{seed}", "untrained ResNet-20 (Kaiming-normal convs)", path);
        }

        CheckLayers(resnet.Spec.Name, string.Create(CultureInfo.InvariantCulture, $"ResNet-20 trained {resnet.History.Count} epochs, test error {100 * resnet.TestError:F1}%, marked with its own key in {RunSpec.ResNet20Host}"), Path.Combine(runner.Folder(resnet.Spec.Name), "model.dat"));

        var nulls = rows.Where(r => r.Group != Positive).ToList();
        var copiesChecked = rows.Where(r => r.Group == Positive).ToList();
        var gate = AlignmentOptions.Default.ConfidenceThreshold;
        static double Confidence(AlignedRow r) => Math.Min(r.MeanInputCosine, r.MeanOutputCosine);
        var nullTop = nulls.Max(Confidence);
        var copyLow = copiesChecked.Count > 0 ? copiesChecked.Min(Confidence) : double.NaN;
        var notes = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture, $"Reference: {marked.Spec.Name} (its key.json: {keyring.Slots[0].Bits} bits in {keyring.Slots[0].Parameter}). Each model is checked as `watermark verify MODEL --key key.json --reference model.dat` checks it, once on the host weights alone and once with `--producer {Producer.Conv},{Producer.Norm}`; p-values are the extractor's binomial ones (log10), alpha 1e-6. The untrained WRNs are seeds {InitSeeds.First()}–{InitSeeds.Last()}; the trained null models ran {NullEpochs} epoch over the first {NullImages} CIFAR-10 training images ({NullImages / SampleTraining.BatchSize} SGD steps at lr 0.1, tested on the first 2,000 test images) with seeds and keys none of which is the reference's (short, so that there are many)."),
            string.Create(CultureInfo.InvariantCulture, $"Reading: after alignment the null models' bits are biased towards the mark (mean BER {nulls.Average(r => r.PlainBer):0.000} plain, {nulls.Average(r => r.AlignedBer):0.000} aligned; aligned p down to 10^{nulls.Min(r => r.AlignedLog10P):0.0} against alpha 1e-6), so the binomial p-value of aligned bits is not a valid bound. The confidence gate ({gate}) is no safeguard on its own: {(nulls.Any(r => r.Confident) ? string.Join(", ", nulls.Where(r => r.Confident).Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Model} ({r.Signatures}, confidence {Confidence(r):0.000}, aligned BER {r.AlignedBer:0.000})"))) + " opened it" : "no null model opened it, but the highest came close")} (highest null confidence {nullTop:0.000}; copies of the reference at least {copyLow:0.000}): fully trained networks of the same architecture share enough structure for a confident match. So `verify --reference` decides an aligned verdict by a bound calibrated on this set: aligned BER at most {ReferenceOptions.CalibratedAlignedBitErrorRateBound}, half the lowest aligned BER of any null model ({nulls.Min(r => r.AlignedBer):0.000}); the copies' aligned BER is at most {(copiesChecked.Count > 0 ? copiesChecked.Max(r => r.AlignedBer) : double.NaN):0.000}. The verdict says the bound is calibrated, not binomial (docs/alignment.md, \"Null after alignment\")."),
            string.Create(CultureInfo.InvariantCulture, $"Also null: {trainedLong.Count} WRNs trained as long as the reference ({string.Join(", ", trainedLong.Select(r => r.Spec.Name))}: the preset's 10 epochs over all 50,000 images, one without a key, one marked with another key), and every conv of the host's shape {Capacity.ShapeText(host.Shape)} in ResNet-20 ({rows.Count(r => r.Group == OtherNetwork) / (ResNetSeeds.Count() + 1)} layers each of {ResNetSeeds.Count()} untrained ResNet-20s and of {resnet.Spec.Name}, trained with the preset's schedule and marked with its own key), each grafted alone under the host's name and checked on its weights alone."),
        };
        return Result(runner, "Beyond the paper: the null after alignment (verify --reference, issue #17)", command, [], runs, [], notes, marked.Network) with { Aligned = rows };
    }
}
