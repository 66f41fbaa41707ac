using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using Watermark;
using Watermark.Formats;

namespace WideResNet.Experiments;

/// <summary>
/// Issue #17, item 4: transforms undone from the suspect alone. The post-activation ResNet-20's host
/// (layer3.1.conv1) feeds a batch norm directly, so it is also read folded with it (each filter times γ/√(σ²+ε),
/// <see cref="BatchNormFolding"/>, <c>verify --fold-norm</c>), which reordering, rescaling and sign-flipping its
/// filters through that batch norm cannot move. Read on the copies the <see cref="Removal"/> experiment made (its
/// test errors are taken from removal.json), and — the null — with 1,000 fresh keys that no model ever saw.
/// </summary>
internal sealed class Canonical() : Experiment("canonical", "reference-free: the ResNet-20 host read folded with its batch norm, on the removal attacks' copies, and its null")
{
    public const string Norm = "layer3.1.bn1";

    private const int NullKeys = 1000;

    public override ExperimentResult Run(Runner runner, string command)
    {
        var s = runner.Settings.Seed;
        var resnet = runner.Get(Runs.MarkedResNet20(s));
        var removalPath = Path.Combine(runner.Settings.Out, "removal.json");
        if (!File.Exists(removalPath))
        {
            throw new InvalidOperationException($"'{removalPath}' is missing: run the 'removal' experiment first (its attacked copies are read here).");
        }

        var removal = Runner.ReadJson<ExperimentResult>(removalPath).Removal ?? throw new InvalidDataException($"'{removalPath}' holds no removal rows.");
        var keyring = Keyring.Load(Path.Combine(runner.Folder(resnet.Spec.Name), "key.json"));
        var host = keyring.Slots[0].Parameter;
        var folds = new Dictionary<string, string>(StringComparer.Ordinal) { [host] = Norm };
        var files = Path.Combine(runner.Settings.RunsFolder, "removal-files");
        var rows = new List<Row>();
        var notes = new List<string>();
        var read = new List<(string Attack, VerificationResult Plain, VerificationResult Folded)>();
        foreach (var attack in removal.Where(r => r.Network == "ResNet-20"))
        {
            var path = Path.Combine(files, $"{resnet.Spec.Name}-{Removal.Slug(attack.Attack)}.dat");
            if (!File.Exists(path))
            {
                throw new InvalidOperationException($"'{path}' is missing: run the 'removal' experiment first (it writes the attacked copies).");
            }

            var model = ModelFile.Open(path);
            var plain = keyring.Verify(model);
            var folded = keyring.Verify(model, folds);
            read.Add((attack.Attack, plain, folded));
            rows.Add(new Row($"{attack.Attack}: plain", resnet.Spec.Name, attack.TestError, null, double.NaN, plain.BitErrorRate, plain.PValue.ToString(), 0));
            rows.Add(new Row($"{attack.Attack}: folded with {Norm} → {(folded.IsPresent ? "present" : "absent")}", resnet.Spec.Name, attack.TestError, null, double.NaN, folded.BitErrorRate, folded.PValue.ToString(), 0));
            Console.WriteLine(FormattableString.Invariant($"[canonical] {attack.Attack,-32} plain {plain.Matched}/{plain.Bits} (p {plain.PValue})  folded {folded.Matched}/{folded.Bits} (p {folded.PValue})"));
        }

        string Of(string attack, Func<(string, VerificationResult Plain, VerificationResult Folded), VerificationResult> which)
        {
            var r = which(read.Single(x => x.Attack == attack));
            return $"{r.Matched}/{r.Bits} (p = {r.PValue}, {(r.IsPresent ? "present" : "absent")})";
        }

        notes.Add($"The ResNet-20 host {host} is followed by {Norm}, so each filter o can be read as W[o]·γ_o/√(σ_o²+ε) — the weight the network computes with, which the output-side attacks leave as it was (up to the order of the filters, which the filter mean ignores). Unattacked, the folded reading finds {Of("none", r => r.Folded)} (plain {Of("none", r => r.Plain)}): the factors γ_o/√(σ_o²+ε) reweight the filters, but each filter carries the mark on its own. After flipping the signs of half the filters plain verify reads {Of("flip outputs", r => r.Plain)}, folded {Of("flip outputs", r => r.Folded)}; after all three output transforms and a fine-tuning epoch, plain {Of("all three + fine-tune", r => r.Plain)}, folded {Of("all three + fine-tune", r => r.Folded)} — without the reference.");
        notes.Add($"What it does not undo: weight shifting moves the filter means themselves, and folding cannot bring them back (s = 1.5 + fine-tuning: folded {Of("weight shifting + fine-tune", r => r.Folded)}; s = 1 + fine-tuning: {Of("weight shifting, s = 1 + fine-tune", r => r.Folded)}); nor anything on the host's input side, whose channels come through a ReLU from another layer. The WRN's host (g2.block0.conv2) feeds the residual sum, not a batch norm of its own, so it has no folded form: there an adversary cannot reorder, rescale or flip its filters without the residual sum noticing, and its input side needs the reference (`--reference`).");

        // The null: the folding looks at the model only, so for keys it never saw the bits should be fair coins.
        foreach (var attack in new[] { "none", "all three + fine-tune" })
        {
            var model = ModelFile.Open(Path.Combine(files, $"{resnet.Spec.Name}-{Removal.Slug(attack)}.dat"));
            var shape = model.Find(host).Shape;
            var nulls = Enumerable.Range(0, NullKeys).Select(i =>
            {
                var seed = SecretSeed.FromBytes(SHA256.HashData(Encoding.UTF8.GetBytes($"canonical-null|{s}|{i}")));
                var key = WatermarkKey.Create(host, shape, 256, KeyKind.Random, Message.AllOnes, 0.01, Whitening.None, allowOverCapacity: true, seed);
                return new Keyring(key).Verify(model, folds);
            }).ToList();
            var smallest = nulls.MinBy(r => r.PValue.Log10)!;
            notes.Add(string.Create(CultureInfo.InvariantCulture, $"Null, folded reading of the '{attack}' copy with {NullKeys} fresh 256-bit keys it never saw: mean BER {nulls.Average(r => r.BitErrorRate):0.000}, {nulls.Count(r => r.PValue.IsAtMost(0.01))} with p ≤ 0.01 (expected under the binomial null: {Expected(0.01):0.0}), {nulls.Count(r => r.PValue.IsAtMost(0.001))} with p ≤ 0.001 (expected {Expected(0.001):0.0}), smallest p = {smallest.PValue} (BER {smallest.BitErrorRate:0.000}), none present at α = 1e-6: {(nulls.Any(r => r.IsPresent) ? "NO — one was flagged" : "yes")}. The binomial p-value stays a valid bound for the folded reading."));
        }

        // How many of the null keys a fair binomial puts at p ≤ level (the test's steps make it less than level·keys).
        static double Expected(double level)
        {
            var k = Enumerable.Range(0, 257).First(k => PValue.BinomialUpperTail(256, k).IsAtMost(level));
            return NullKeys * Math.Pow(10, PValue.BinomialUpperTail(256, k).Log10);
        }

        return Result(runner, "Beyond the paper: reference-free reading of a host folded with its batch norm (issue #17)", command, rows, [resnet], [], notes, resnet.Network);
    }
}
