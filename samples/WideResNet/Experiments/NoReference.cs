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
/// Issue #17, item 4: what can be undone from the suspect alone, with no reference. Two readings, each checked on the
/// copies the <see cref="Removal"/> experiment made (test errors from removal.json) and — the null — with 1,000
/// fresh keys that no model ever saw:
/// <list type="bullet">
/// <item>the <b>folded</b> reading (<c>verify --fold-norm</c>, <see cref="BatchNormFolding"/>): the post-activation
/// ResNet-20's host (layer3.1.conv1) feeds a batch norm directly, so each filter is read times γ/√(σ²+ε), which
/// reordering, rescaling and sign-flipping its filters through that batch norm cannot move;</item>
/// <item>the <b>two-sided</b> test (<c>--two-sided</c>, <see cref="VerificationResult.WithTwoSidedTest"/>): present when
/// the bits match the key or its complement far beyond chance — weight shifting negates the filter means.</item>
/// </list>
/// </summary>
internal sealed class NoReference() : Experiment("noreference", "without a reference: the folded reading (ResNet-20) and the two-sided test, on the removal attacks' copies, and their null")
{
    public const string Norm = "layer3.1.bn1";

    private const int NullKeys = 1000;

    public override ExperimentResult Run(Runner runner, string command)
    {
        var s = runner.Settings.Seed;
        var wrn = runner.Get(Runs.Marked(s));
        var resnet = runner.Get(Runs.MarkedResNet20(s));
        var removalPath = Path.Combine(runner.Settings.Out, "removal.json");
        if (!File.Exists(removalPath))
        {
            throw new InvalidOperationException($"'{removalPath}' is missing: run the 'removal' experiment first (its attacked copies are read here).");
        }

        var removal = Runner.ReadJson<ExperimentResult>(removalPath).Removal ?? throw new InvalidDataException($"'{removalPath}' holds no removal rows.");
        var rows = new List<Row>();
        var notes = new List<string>();
        var read = new Dictionary<(string Network, string Attack), (VerificationResult? Plain, VerificationResult? Folded)>();
        foreach (var (network, run) in new[] { ("WRN-10-2", wrn), ("ResNet-20", resnet) })
        {
            var keyring = Keyring.Load(Path.Combine(runner.Folder(run.Spec.Name), "key.json"));
            var folds = network == "ResNet-20" ? new Dictionary<string, string>(StringComparer.Ordinal) { [keyring.Slots[0].Parameter] = Norm } : null;
            foreach (var attack in removal.Where(r => r.Network == network))
            {
                var path = Removal.CopyPath(runner, run.Spec.Name, attack.Attack);
                if (!File.Exists(path))
                {
                    throw new InvalidOperationException($"'{path}' is missing: run the 'removal' experiment first (it writes the attacked copies).");
                }

                var model = ModelFile.Open(path);
                if (model.Find(keyring.Slots[0].Parameter).Shape.SequenceEqual(keyring.Slots[0].Shape) is false)
                {
                    read[(network, attack.Attack)] = (null, null);
                    rows.Add(new Row($"{network}, {attack.Attack}: the key no longer applies (dummy channels), any reading", run.Spec.Name, attack.TestError, null, double.NaN, double.NaN, "exit 2", 0));
                    continue;
                }

                var plain = keyring.Verify(model);
                var folded = folds is null ? null : keyring.Verify(model, folds);
                read[(network, attack.Attack)] = (plain, folded);
                rows.Add(Line($"{network}, {attack.Attack}: plain", run, attack, plain));
                rows.Add(Line($"{network}, {attack.Attack}: plain, two-sided", run, attack, plain.WithTwoSidedTest()));
                if (folded is not null)
                {
                    rows.Add(Line($"{network}, {attack.Attack}: folded with {Norm}", run, attack, folded));
                }

                Console.WriteLine(FormattableString.Invariant($"[noreference] {network} {attack.Attack,-36} plain {plain.Matched}/{plain.Bits}, two-sided p {plain.WithTwoSidedTest().PValue}{(folded is null ? string.Empty : $", folded {folded.Matched}/{folded.Bits}")}"));
            }
        }

        string Of(string network, string attack, bool folded = false, bool twoSided = false)
        {
            var (plain, fold) = read[(network, attack)];
            var r = folded ? fold! : plain!;
            r = twoSided ? r.WithTwoSidedTest() : r;
            return $"{r.Matched}/{r.Bits} ({(twoSided ? "two-sided " : string.Empty)}p = {r.PValue}, {(r.IsInverted ? "present, inverted" : r.IsPresent ? "present" : "absent")})";
        }

        notes.Add($"Folded reading. The ResNet-20's host layer3.1.conv1 is followed by {Norm}, so each filter o can be read as W[o]·γ_o/√(σ_o²+ε) — the weight the network computes with, which the output-side attacks leave as it was (up to the order of the filters, which the filter mean ignores). Unattacked, the folded reading finds {Of("ResNet-20", "none", folded: true)} (plain {Of("ResNet-20", "none")}): the factors γ_o/√(σ_o²+ε) reweight the filters, but each filter carries the mark on its own. After flipping the signs of half the filters plain verify reads {Of("ResNet-20", "flip outputs")}, folded {Of("ResNet-20", "flip outputs", folded: true)}; after all three output transforms and a fine-tuning epoch, plain {Of("ResNet-20", "all three + fine-tune")}, folded {Of("ResNet-20", "all three + fine-tune", folded: true)} — without the reference. It does not undo the input side (the channels come through a ReLU from another layer: `--reference`), nor weight shifting. The WRN's host (g2.block0.conv2) feeds the residual sum, not a batch norm of its own, so it has no folded form.");
        notes.Add($"Two-sided test. Weight shifting at the toolbox's s = 1.5 subtracts one and a half filter means from every filter, so the filter mean is negated and the bits read back as the key's complement: one-sided absent, two-sided WRN-10-2 {Of("WRN-10-2", "weight shifting + fine-tune", twoSided: true)} and ResNet-20 {Of("ResNet-20", "weight shifting + fine-tune", twoSided: true)} after the fine-tuning epoch — found without the reference. Doubling the smaller tail keeps α: a mark read the right way up pays a factor 2 (unattacked WRN-10-2: {Of("WRN-10-2", "none", twoSided: true)}). What neither reading survives: weight shifting with s = 1, which zeroes the filter means (WRN-10-2 + fine-tune {Of("WRN-10-2", "weight shifting, s = 1 + fine-tune", twoSided: true)}, ResNet-20 {Of("ResNet-20", "weight shifting, s = 1 + fine-tune", twoSided: true)}).");

        // The null: neither reading looks at the key, so for keys no model saw the bits should be fair coins.
        foreach (var (network, run, attack, fold) in new[] { ("WRN-10-2", wrn, "none", false), ("WRN-10-2", wrn, "all four + fine-tune", false), ("ResNet-20", resnet, "none", true), ("ResNet-20", resnet, "all three + fine-tune", true) })
        {
            var model = ModelFile.Open(Removal.CopyPath(runner, run.Spec.Name, attack));
            var host = Keyring.Load(Path.Combine(runner.Folder(run.Spec.Name), "key.json")).Slots[0].Parameter;
            var shape = model.Find(host).Shape;
            var folds = new Dictionary<string, string>(StringComparer.Ordinal) { [host] = Norm };
            var nulls = Enumerable.Range(0, NullKeys).Select(i =>
            {
                var seed = SecretSeed.FromBytes(SHA256.HashData(Encoding.UTF8.GetBytes($"noreference-null|{network}|{s}|{i}")));
                var key = new Keyring(WatermarkKey.Create(host, shape, 256, KeyKind.Random, Message.AllOnes, 0.01, Whitening.None, allowOverCapacity: true, seed));
                return (fold ? key.Verify(model, folds) : key.Verify(model)).WithTwoSidedTest();
            }).ToList();
            var smallest = nulls.MinBy(r => r.PValue.Log10)!;
            notes.Add(string.Create(CultureInfo.InvariantCulture, $"Null, {network} '{attack}' copy read {(fold ? "folded with " + Norm + ", " : string.Empty)}two-sided with {NullKeys} fresh 256-bit keys it never saw: mean BER {nulls.Average(r => r.BitErrorRate):0.000}, {nulls.Count(r => r.PValue.IsAtMost(0.01))} with two-sided p ≤ 0.01 (expected under the binomial null: {Expected(0.01):0.0}), {nulls.Count(r => r.PValue.IsAtMost(0.001))} with p ≤ 0.001 (expected {Expected(0.001):0.0}), smallest p = {smallest.PValue} (BER {smallest.BitErrorRate:0.000}), flagged at α = 1e-6: {nulls.Count(r => r.IsPresent)}."));
        }

        // The other null: models that never saw the owner's key, read with it (alignnull's plain readings).
        var alignNull = Path.Combine(runner.Settings.Out, "alignnull.json");
        if (File.Exists(alignNull) && Runner.ReadJson<ExperimentResult>(alignNull).Aligned is { } aligned)
        {
            var models = aligned.Where(r => !r.Group.StartsWith("positive", StringComparison.Ordinal)).DistinctBy(r => r.Model).ToList();
            var twoSided = models.Select(r => (r.Model, P: PValue.BinomialTwoSided(r.Bits, r.PlainMatched))).ToList();
            var lowest = twoSided.MinBy(t => t.P.Log10);
            notes.Add($"Null, the {models.Count} models and layers of `alignnull` that never saw the owner's key (untrained, trained without a key or with other keys, ResNet-20 layers), read plainly with it and judged two-sided: smallest two-sided p = {lowest.P} ({lowest.Model}), flagged at α = 1e-6: {twoSided.Count(t => t.P.IsAtMost(1e-6))}.");
        }

        // How many of the null keys a fair two-sided binomial test puts at p ≤ level (its steps make it less than level·keys).
        static double Expected(double level)
        {
            var k = Enumerable.Range(128, 129).First(k => PValue.BinomialTwoSided(256, k).IsAtMost(level));
            return 2 * NullKeys * Math.Pow(10, PValue.BinomialUpperTail(256, k).Log10);
        }

        return Result(runner, "Beyond the paper: without a reference — the folded reading and the two-sided test (issue #17)", command, rows, [wrn, resnet], [], notes, $"{wrn.Network} and {resnet.Network}");
    }

    private static Row Line(string setting, RunResult run, RemovalRow attack, VerificationResult result) =>
        new(setting, run.Spec.Name, attack.TestError, null, double.NaN, result.BitErrorRate, $"{result.PValue}{(result.IsInverted ? " (present, inverted)" : result.IsPresent ? " (present)" : string.Empty)}", 0);
}
