using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Watermark;

namespace WideResNet.Experiments;

/// <summary>
/// Marks in several layers against overwriting (#17): one keyring with a 256-bit slot in each of conv2, conv3
/// and conv4, trained in together; then an adversary who knows the method embeds marks of his own by fine-tuning,
/// in one group (conv2) or in all three, and the owner's keyring is read per slot and combined
/// (<see cref="VerificationResult"/>: P[Binomial(Σ T, ½) ≥ Σ k]). Models that never saw the keyring are read
/// with it too, so the combined test's false-positive side is on the same page.
/// </summary>
internal sealed class Multilayer() : Experiment("multilayer", "one keyring with slots in conv2, conv3 and conv4; overwrite one group and all groups")
{
    public const string AllGroups = "2,3,4";

    /// <summary>The marked run: the paper's setting (256 random bits, λ = 0.01) in each group's first block's conv2, one training.</summary>
    public static RunSpec Marked(ulong seed) => new($"cifar-random-g234-s{seed}", seed, "cifar10", Embed: true, Groups: AllGroups);

    /// <summary>
    /// The adversary's overwriting: fine-tuning <paramref name="marked"/> with the preset's schedule while embedding
    /// new 256-bit marks (keys of another seed) in <paramref name="groups"/> ("2" or "2,3,4"), §5.1's attack.
    /// </summary>
    public static RunSpec Overwritten(ulong seed, RunSpec marked, string groups) =>
        new($"{marked.Name}-overwrite-{(groups == AllGroups ? "all" : $"conv{groups}")}", seed + 30, "cifar10", Embed: true, Group: int.Parse(groups.Split(',')[0], CultureInfo.InvariantCulture), StartFrom: marked.Name, KeySeed: seed + 1000, Groups: groups.Contains(',') ? groups : null);

    public override ExperimentResult Run(Runner runner, string command)
    {
        var s = runner.Settings.Seed;
        var marked = runner.Get(Marked(s));
        var keyring = runner.KeyringFor(marked.Spec);
        var single = runner.Get(Runs.Marked(s));
        var conv2Only = runner.Get(Overwritten(s, marked.Spec, "2"));
        var all = runner.Get(Overwritten(s, marked.Spec, AllGroups));
        var unmarked = runner.Get(Runs.None(s + 1));
        var otherKey = runner.Get(Runs.Marked(s + 2));
        var rows = new List<Row>();
        var notes = new List<string>();
        var verdicts = new List<(string Label, VerificationResult Verdict)>();

        void Read(string label, RunResult run, Keyring ring, bool perSlot = true)
        {
            using var model = runner.Load(run.Spec);
            var slots = ring.Slots.Select(k => Runner.Measure(model, k)).ToArray();
            var verdict = new VerificationResult(slots.Select(m => m.Slot));
            if (perSlot)
            {
                foreach (var (key, m) in ring.Slots.Zip(slots))
                {
                    rows.Add(Report.RowOf($"{label}: {Slot(key)}", run.Spec.Name, run.TestError, null, m, run.WallSeconds / 60));
                }
            }

            rows.Add(new Row($"{label}: combined ({verdict.Bits} bits) → {(verdict.IsPresent ? "present" : "absent")}", run.Spec.Name, run.TestError, null, slots.Sum(m => m.EmbeddingLoss), verdict.BitErrorRate, verdict.PValue.ToString(), run.WallSeconds / 60));
            verdicts.Add((label, verdict));
        }

        Read("marked in conv2, conv3 and conv4", marked, keyring);
        rows.Add(Report.RowOf("for comparison: marked in conv2 alone", single, null));
        Read("conv2 overwritten by a new mark", conv2Only, keyring);
        Read("all three overwritten by new marks", all, keyring);
        Read("the adversary's own marks after overwriting all three", all, runner.KeyringFor(all.Spec), perSlot: false);
        Read("never saw the keyring: trained without a mark", unmarked, keyring);
        Read("never saw the keyring: marked in conv2 with another key", otherKey, keyring);

        string Of(int index) => $"{verdicts[index].Verdict.Matched}/{verdicts[index].Verdict.Bits} (p = {verdicts[index].Verdict.PValue})";
        string Slots(int index) => string.Join(" / ", verdicts[index].Verdict.Slots.Select(v => $"{v.BitErrorRate:0.000} (p = {v.PValue})"));
        string Verdict(int index) => verdicts[index].Verdict.IsPresent ? "present" : $"absent at α = {verdicts[index].Verdict.Alpha:0e0}";
        notes.Add($"One keyring, three slots (256 bits each, λ = 0.01 each, in {string.Join(", ", keyring.Slots.Select(k => k.Parameter))}), trained in one run: test error {100 * marked.TestError:0.00}% against {100 * single.TestError:0.00}% with conv2 alone (three regularizers cost {100 * (marked.TestError - single.TestError):0.0} points here); combined {Of(0)}.");
        notes.Add($"Overwriting conv2 alone (fine-tuning {runner.Epochs(conv2Only.Spec)} epochs with the preset's schedule and weight decay while embedding a new 256-bit mark there, §5.1's attack) takes conv2's slot to BER {verdicts[1].Verdict.Slots[0].BitErrorRate:0.000}, as in §5.1, and leaves the other two (BER {verdicts[1].Verdict.Slots[1].BitErrorRate:0.000} and {verdicts[1].Verdict.Slots[2].BitErrorRate:0.000}): combined {Of(1)}, {Verdict(1)}. An adversary who overwrites the layer a single mark lives in has to find and overwrite every marked layer.");
        notes.Add($"Overwriting all three (new marks in conv2, conv3 and conv4 at once, the same fine-tuning; test error after it {100 * all.TestError:0.00}%): slot BER {Slots(2)} — each keeps a little more than half its bits, as one overwritten mark does — and combined {Of(2)}: {Verdict(2)}. Three layers add evidence (the combined p is {(verdicts[2].Verdict.Slots.Min(v => v.PValue.Log10) - verdicts[2].Verdict.PValue.Log10):0.0} orders of magnitude below the best slot's) {(verdicts[2].Verdict.IsPresent ? "and that is enough for the verdict here" : "but not enough for the verdict here")}; against an adversary who knows the method and overwrites every marked layer, more layers buy margin, not immunity. The adversary's own marks read back perfectly ({Of(3)}).");
        notes.Add($"Models that never saw the keyring read with it: {Of(4)} and {Of(5)} — the combined test is the binomial one, as the slots' keys are independent.");
        return Result(runner, "Marks in several layers against overwriting", command, rows, [marked, single, conv2Only, all, unmarked, otherKey], [], notes);
    }

    private static string Slot(WatermarkKey key) => key.Parameter.Replace(".weight", string.Empty, System.StringComparison.Ordinal);
}
