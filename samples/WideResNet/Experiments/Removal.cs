using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using TorchSharp;
using Watermark;
using Watermark.Attacks;
using Watermark.Formats;
using Watermark.Training;
using static TorchSharp.torch;

namespace WideResNet.Experiments;

/// <summary>
/// One attacked copy checked like <c>watermark verify --model COPY --key KEY --reference ORIGINAL</c>.
/// </summary>
/// <param name="Network">The marked network the copy came from.</param>
/// <param name="Attack">The attack's name.</param>
/// <param name="Detail">What it did.</param>
/// <param name="HostShape">The host weight's shape in the copy (dummy channels widen it).</param>
/// <param name="TestError">The copy's CIFAR-10 test error.</param>
/// <param name="PlainBer">BER read from the copy as it is; null when the key cannot be applied (plain verify exits 2).</param>
/// <param name="PlainLog10P">log10 of its binomial p; null likewise.</param>
/// <param name="PlainPresent">Plain verify's verdict (alpha 1e-6).</param>
/// <param name="PlainUnusable">Why plain verify cannot read the copy (exit 2), or null.</param>
/// <param name="InvertedLog10P">log10 of P[X ≤ matched] for X ~ Binomial(T, ½): how unlikely the plain bits are to be this far from the message by chance (a mark read back inverted, as weight shifting with s &gt; 1 leaves it); null when plain verify cannot read the copy. Not part of any verdict.</param>
/// <param name="AlignedBer">BER after alignment to the original.</param>
/// <param name="AlignedLog10P">log10 of the binomial p the extractor gives the aligned bits (not a valid bound after alignment).</param>
/// <param name="Confidence">The smaller of the alignment's mean input and output cosines.</param>
/// <param name="Confident">Whether the alignment is confident.</param>
/// <param name="Undone">What the alignment undid.</param>
/// <param name="Present">The verdict of <c>verify --reference</c>.</param>
internal sealed record RemovalRow(string Network, string Attack, string Detail, string HostShape, double TestError, double? PlainBer, double? PlainLog10P, bool PlainPresent, string? PlainUnusable, double? InvertedLog10P, double AlignedBer, double AlignedLog10P, double Confidence, bool Confident, string Undone, bool Present);

/// <summary>
/// Issue #17: the removal attacks of an informed adversary — function-preserving transforms on both sides of
/// the host (Pan et al. 2023), dummy neurons that change its shape (Yan et al. 2023), the toolbox's weight
/// shifting (Lukas et al. 2022), their composition and fine-tuning — against plain verification and
/// verification aligned to the owner's original. Two networks: the paper's pre-activation WRN, whose host
/// (g2.block0.conv2) can be attacked on its input side, and a post-activation ResNet-20, whose host
/// (layer3.1.conv1, followed by bn1 and a ReLU) can be attacked on its output side.
/// </summary>
internal sealed class Removal() : Experiment("removal", "removal attacks (permutation, scaling, sign flips, dummy neurons, weight shifting, fine-tuning) against plain and aligned verification")
{
    /// <summary>Dummy channels added by each of NeuronClique and NeuronSplit.</summary>
    public const int DummyChannels = 16;

    /// <summary>The adversary's fine-tuning: one epoch over CIFAR-10 at this learning rate, without the regularizer.</summary>
    public const double FineTuneRate = 0.01;

    private delegate void Step(string source, string destination);

    private sealed record Attack(string Name, string Detail, Step Apply);

    private sealed record Target(string Label, RunResult Run, string Host, ProducerNames? Producer, List<Attack> Attacks);

    public override ExperimentResult Run(Runner runner, string command)
    {
        var s = runner.Settings.Seed;
        var wrn = runner.Get(Runs.Marked(s));
        var resnet = runner.Get(Runs.MarkedResNet20(s));
        Directory.CreateDirectory(Path.GetDirectoryName(CopyPath(runner, wrn.Spec.Name, "none"))!);
        var test = SampleTraining.TestBatches(runner.CifarTest);
        var rows = new List<RemovalRow>();
        foreach (var target in new[] { WrnTarget(runner, wrn), ResNetTarget(runner, resnet) })
        {
            var folder = runner.Folder(target.Run.Spec.Name);
            var original = Path.Combine(folder, "model.dat");
            var keyring = Keyring.Load(Path.Combine(folder, "key.json"));
            var reference = ModelFile.Open(original);
            var options = target.Producer is { } producer
                ? new ReferenceOptions { Producers = new Dictionary<string, ProducerNames>(StringComparer.Ordinal) { [target.Host] = producer } }
                : ReferenceOptions.Default;
            foreach (var attack in target.Attacks)
            {
                var path = CopyPath(runner, target.Run.Spec.Name, attack.Name);
                // Fine-tunings are slow: an attacked copy is reused unless its original was trained again since.
                if (!File.Exists(path) || File.GetLastWriteTimeUtc(path) < File.GetLastWriteTimeUtc(original))
                {
                    Console.WriteLine($"[{target.Label}] {attack.Name}: {attack.Detail}");
                    attack.Apply(original, path);
                }

                var suspect = ModelFile.Open(path);
                var r = keyring.Verify(suspect, reference, VerificationResult.DefaultAlpha, options);
                var a = r.Alignments[0];
                var undone = string.Create(CultureInfo.InvariantCulture, $"{a.InputsMoved} inputs and {a.OutputsMoved} outputs moved, {a.SignsFlipped} signs flipped, {a.MergedGroups.Length} groups merged, {a.DroppedInputs.Length} inputs dropped");
                var row = new RemovalRow(
                    target.Label, attack.Name, attack.Detail, Capacity.ShapeText(suspect.Find(target.Host).Shape), Evaluate(runner, target.Run.Spec.Network, path, test),
                    r.Plain?.BitErrorRate, r.Plain?.PValue.Log10, r.Plain?.IsPresent ?? false, r.PlainUnusable,
                    r.Plain is { } p ? PValue.BinomialUpperTail(p.Bits, p.Bits - p.Matched).Log10 : null,
                    r.Aligned.BitErrorRate, r.Aligned.PValue.Log10, Math.Min(a.MeanInputCosine, a.MeanOutputCosine), r.IsConfident, undone, r.IsPresent);
                rows.Add(row);
                Console.WriteLine(FormattableString.Invariant($"[{target.Label}] {attack.Name,-28} test error {100 * row.TestError:F2}%  plain {(row.PlainBer is { } b ? $"BER {b:0.000} (log10 p {row.PlainLog10P:F1})" : "exit 2")}  aligned BER {row.AlignedBer:0.000}, confidence {row.Confidence:0.000}  {(row.Present ? "PRESENT" : "absent")}"));
            }
        }

        var notes = Notes(rows, wrn, resnet);
        return Result(runner, "Beyond the paper: removal attacks against plain and aligned verification (issue #17)", command, [], [wrn, resnet], [], notes, $"{wrn.Network} and {resnet.Network}") with { Removal = rows };
    }

    // The WRN's host reads the channels conv1 makes through bn2 and a ReLU: its input side can be permuted,
    // rescaled and widened; its output side feeds the residual sum, which fixes the order and scale of its filters.
    private static Target WrnTarget(Runner runner, RunResult run)
    {
        const string b = "g2.block0";
        var host = $"{b}.conv2.weight";
        var width = (int)ModelFile.Open(Path.Combine(runner.Folder(run.Spec.Name), "model.dat")).Find(host).Shape[1];
        (string, int)[] channels = [($"{b}.conv1.weight", 0), ($"{b}.bn2.weight", 0), ($"{b}.bn2.bias", 0), ($"{b}.bn2.running_mean", 0), ($"{b}.bn2.running_var", 0), (host, 1)];
        Step permute = Transform(runner, RunSpec.Wrn, m => FunctionPreserving.PermuteChannels(m, channels, ChannelPermutation.Random(width, 1)));
        Step rescale = Transform(runner, RunSpec.Wrn, m => FunctionPreserving.ScaleChannels(m, ChannelScaling.Random(width, 20, seed: 1), multiply: [(host, 1)], divide: [($"{b}.bn2.weight", 0), ($"{b}.bn2.bias", 0)]));
        Step clique = Widen(host, $"{b}.conv1", $"{b}.bn2", clique: true);
        Step split = Widen(host, $"{b}.conv1", $"{b}.bn2", clique: false);
        var all = Chain(permute, rescale, clique, split);
        var tune = FineTune(runner, RunSpec.Wrn, run.Spec.Seed);
        return new Target(run.Network, run, host, new ProducerNames($"{b}.conv1.weight", $"{b}.bn2"),
        [
            new("none", "the marked model as trained", Copy),
            new("fine-tune", FineTuneText, tune),
            new("permute inputs", $"conv2's {width} input channels permuted with conv1's filters and bn2 (seed 1)", permute),
            new("rescale inputs", "conv2's input channels multiplied by factors in [1/20, 20], bn2's weight and bias divided (seed 1)", rescale),
            new("NeuronClique", $"{DummyChannels} channels added between conv1/bn2 and conv2, in cancelling pairs (seed 1)", clique),
            new("NeuronSplit", $"{DummyChannels} of conv2's input channels split in two (seed 1)", split),
            new("all four", "permute, rescale, NeuronClique, NeuronSplit", all),
            new("all four + fine-tune", "all four, then " + FineTuneText, Chain(all, tune)),
            new("weight shifting", ShiftText(WeightShifting.DefaultShift), Shift(WeightShifting.DefaultShift)),
            new("weight shifting + fine-tune", ShiftText(WeightShifting.DefaultShift) + ", then " + FineTuneText, Chain(Shift(WeightShifting.DefaultShift), tune)),
            new("weight shifting, s = 1", ShiftText(1), Shift(1)),
            new("weight shifting, s = 1 + fine-tune", ShiftText(1) + ", then " + FineTuneText, Chain(Shift(1), tune)),
        ]);
    }

    // ResNet-20's host is followed by bn1 and a ReLU, then conv2: its output filters can be permuted (with bn1 and
    // conv2's input channels), rescaled and sign-flipped (bn1 absorbs both); its input is the residual stream.
    private static Target ResNetTarget(Runner runner, RunResult run)
    {
        const string b = "layer3.1";
        var host = RunSpec.ResNet20Host;
        var width = (int)ModelFile.Open(Path.Combine(runner.Folder(run.Spec.Name), "model.dat")).Find(host).Shape[0];
        (string, int)[] channels = [(host, 0), ($"{b}.bn1.weight", 0), ($"{b}.bn1.bias", 0), ($"{b}.bn1.running_mean", 0), ($"{b}.bn1.running_var", 0), ($"{b}.conv2.weight", 1)];
        Step permute = Transform(runner, RunSpec.ResNet20, m => FunctionPreserving.PermuteChannels(m, channels, ChannelPermutation.Random(width, 1)));
        Step rescale = Transform(runner, RunSpec.ResNet20, m => FunctionPreserving.ScaleOutputs(m, ChannelScaling.Random(width, 20, seed: 1), [host], $"{b}.bn1"));
        Step flip = Transform(runner, RunSpec.ResNet20, m => FunctionPreserving.FlipOutputs(m, SignFlip.Random(width, 0.5, 1), [host], $"{b}.bn1"));
        var all = Chain(permute, rescale, flip);
        var tune = FineTune(runner, RunSpec.ResNet20, run.Spec.Seed);
        return new Target(run.Network, run, host, null,
        [
            new("none", "the marked model as trained", Copy),
            new("fine-tune", FineTuneText, tune),
            new("permute outputs", $"the host's {width} filters permuted with bn1 and conv2's input channels (seed 1)", permute),
            new("rescale outputs", "the host's filters multiplied by factors in [1/20, 20], bn1's running statistics absorbing them (seed 1)", rescale),
            new("flip outputs", "half the host's filters negated, bn1's weight and running mean with them (seed 1)", flip),
            new("all three", "permute, rescale, flip", all),
            new("all three + fine-tune", "all three, then " + FineTuneText, Chain(all, tune)),
            new("weight shifting", ShiftText(WeightShifting.DefaultShift), Shift(WeightShifting.DefaultShift)),
            new("weight shifting + fine-tune", ShiftText(WeightShifting.DefaultShift) + ", then " + FineTuneText, Chain(Shift(WeightShifting.DefaultShift), tune)),
            new("weight shifting, s = 1", ShiftText(1), Shift(1)),
            new("weight shifting, s = 1 + fine-tune", ShiftText(1) + ", then " + FineTuneText, Chain(Shift(1), tune)),
        ]);
    }

    private static string FineTuneText => string.Create(CultureInfo.InvariantCulture, $"1 epoch of CIFAR-10 at lr {FineTuneRate}, no regularizer");

    private static string ShiftText(double shift) => string.Create(CultureInfo.InvariantCulture, $"every conv: W ← W − {shift}·mean₀(W) + N(0, std(W)²) (the toolbox's weight shifting{(shift == WeightShifting.DefaultShift ? ", its s" : ", s")} = {shift})");

    /// <summary>Where the attacked copy <paramref name="attack"/> of run <paramref name="run"/> is kept (other experiments read it there).</summary>
    public static string CopyPath(Runner runner, string run, string attack) =>
        Path.Combine(runner.Settings.RunsFolder, "removal-files", $"{run}-{Slug(attack)}.dat");

    private static string Slug(string name) => new([.. name.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-')]);

    private static void Copy(string source, string destination) => File.Copy(source, destination, overwrite: true);

    private static Step Chain(params Step[] steps) => (source, destination) =>
    {
        var current = source;
        for (var i = 0; i < steps.Length; i++)
        {
            var next = i == steps.Length - 1 ? destination : $"{destination}.step{i}.dat";
            steps[i](current, next);
            if (current != source)
            {
                File.Delete(current);
            }

            current = next;
        }
    };

    // The blocks' widths between their two convs, as a file holds them (dummy channels change them).
    private static Dictionary<string, long> InnerWidths(string path) =>
        ModelFile.Open(path).Tensors
            .Where(t => t.Name.EndsWith(".conv1.weight", StringComparison.Ordinal) && t.Name.Contains('.', StringComparison.Ordinal) && t.Name != "conv1.weight")
            .ToDictionary(t => t.Name[..^".conv1.weight".Length], t => t.Shape[0], StringComparer.Ordinal);

    private static nn.Module<Tensor, Tensor> Load(Runner runner, string network, string path)
    {
        var model = runner.Create(network, inner: InnerWidths(path));
        model.load(path);
        return model;
    }

    private static Step Transform(Runner runner, string network, Action<nn.Module> transform) => (source, destination) =>
    {
        using var model = Load(runner, network, source);
        transform(model);
        model.save(destination);
    };

    // NeuronClique or NeuronSplit between the producer (conv and batch norm) and the host, on the file.
    private static Step Widen(string host, string conv, string norm, bool clique) => (source, destination) =>
    {
        var file = ModelFile.Open(source);
        var producer = new[] { $"{conv}.weight", $"{norm}.weight", $"{norm}.bias", $"{norm}.running_mean", $"{norm}.running_var" }.Select(n => (file.Find(n), 0)).ToList();
        DummyNeurons.Write(file, producer, file.Find(host), clique, DummyChannels, 1, destination, replace: true);
    };

    // The toolbox's weight shifting on every conv weight (4 dimensions), each with its own noise seed.
    private static Step Shift(double shift) => (source, destination) =>
    {
        var file = ModelFile.Open(source);
        var replaced = new List<(TensorEntry, float[])>();
        foreach (var (entry, i) in file.Tensors.Where(t => t.Shape.Length == 4).Select((t, i) => (t, i)))
        {
            var values = file.ReadFloat32(entry);
            WeightShifting.Apply(values, entry.Shape, shift, seed: i + 1);
            replaced.Add((entry, values));
        }

        file.WriteWithReplaced(destination, replaced, replace: true);
    };

    private static Step FineTune(Runner runner, string network, ulong seed) => (source, destination) =>
    {
        using var model = Load(runner, network, source);
        var options = runner.Settings.Preset.Options(seed + 40, epochs: 1) with { LearningRate = FineTuneRate, Milestones = [] };
        var device = runner.Settings.Device == "cuda" ? CUDA : CPU;
        SampleTraining.Trainer(model, options, device: device, progress: new ProgressDisplay(Console.Out)).Fit(runner.CifarTrain, null, options);
        model.cpu();
        model.save(destination);
    };

    private static double Evaluate(Runner runner, string network, string path, WideResNet.Data.BatchLoader test)
    {
        using var model = Load(runner, network, path);
        return Trainer.Evaluate(model, test);
    }

    private static List<string> Notes(List<RemovalRow> rows, RunResult wrn, RunResult resnet)
    {
        static string F(double v) => v.ToString("0.000", CultureInfo.InvariantCulture);
        var plainLost = rows.Where(r => r.Attack != "none" && !r.PlainPresent).ToList();
        var recovered = plainLost.Where(r => r.Present).ToList();
        var notes = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture, $"Originals: {wrn.Spec.Name} ({wrn.Network}, 256 bits in g2.block0.conv2, test error {100 * wrn.TestError:F2}%) and {resnet.Spec.Name} ({resnet.Network}, 256 bits in {RunSpec.ResNet20Host}, test error {100 * resnet.TestError:F2}%), both trained with the preset's schedule. Each copy is checked as `watermark verify --model COPY --key key.json --reference model.dat` checks it (the WRN with `--producer g2.block0.conv1.weight,g2.block0.bn2`); alpha 1e-6; the aligned verdict uses the calibrated BER bound {ReferenceOptions.CalibratedAlignedBitErrorRateBound} behind the confidence gate (the binomial p of aligned bits is not valid: see the null after alignment). The same attacks are `watermark attack permute|rescale|outputs|clique|split|shift` on files."),
            string.Create(CultureInfo.InvariantCulture, $"Plain verify lost the mark (absent or exit 2) after {plainLost.Count} of {rows.Count(r => r.Attack != "none")} attacks; aligned verification found it again after {recovered.Count} of those{(recovered.Count < plainLost.Count ? $" (not after: {string.Join(", ", plainLost.Except(recovered).Select(r => $"{r.Network} {r.Attack}, aligned BER {F(r.AlignedBer)}"))})" : string.Empty)}."),
        };
        return notes;
    }
}
