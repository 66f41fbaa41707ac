using System;
using System.Collections.Generic;
using System.Linq;
using Watermark;
using Watermark.Training;

namespace WideResNet.Experiments;

/// <summary>
/// §5.1: overwriting: a second 256-bit mark with a new key embedded into the same slot by fine-tuning,
/// with the preset's weight decay on the host and without it (the authors' code has no weight decay).
/// </summary>
internal sealed class Overwrite() : Experiment("overwrite", "a second mark with a new key in conv2/conv3/conv4")
{
    public override ExperimentResult Run(Runner runner, string command)
    {
        var s = runner.Settings.Seed;
        var paper = new Dictionary<int, double> { [2] = 0.309, [3] = 0.086, [4] = 0.004 };
        var rows = new List<Row>();
        var runs = new List<RunResult>();
        var notes = new List<string>();
        var options = runner.Settings.Preset.Options(s, runner.Epochs(Runs.Marked(s)));
        var steps = (int)Math.Ceiling((double)runner.CifarTrain.Count / SampleTraining.BatchSize);
        var bers = new List<(int Group, bool Decayed, double Ber, double Kept, double Inside)>();
        foreach (var group in new[] { 2, 3, 4 })
        {
            var original = runner.Get(Runs.Marked(s, group: group));
            var key = runner.KeyFor(original.Spec);
            double[] w0;
            using (var first = runner.Load(original.Spec))
            {
                w0 = Robustness.FilterMean(first, key.Parameter);
            }

            rows.Add(Report.RowOf($"conv{group}: first mark after training", original, null));
            runs.Add(original);
            foreach (var hostDecay in new double?[] { null, 0 })
            {
                var suffix = hostDecay is null ? string.Empty : "-host-wd0";
                var label = hostDecay is null ? string.Empty : ", no weight decay on the host";
                var attack = runner.Get(new RunSpec($"{original.Spec.Name}-overwrite{suffix}", s + 30, "cifar10", Embed: true, KeyKind.Random, group, StartFrom: original.Spec.Name, KeySeed: s + 1000, HostWeightDecay: hostDecay));
                using var model = runner.Load(attack.Spec);
                var m = Runner.Measure(model, key);
                var decay = options with { HostWeightDecay = hostDecay };
                var w1 = Robustness.FilterMean(model, key.Parameter);
                var split = Split(w0, w1, runner.KeyFor(attack.Spec));
                notes.Add($"conv{group} (M = {key.FilterMeanLength}, T = 256 + 256{label}): overwriting {Robustness.Drift(w0, w1)}; {split.Text} (weight decay alone would leave {Shrinkage(decay, steps):0.00}×); the first mark's BER went {original.BitErrorRate:0.000} → {m.Slot.BitErrorRate:0.000}.");
                bers.Add((group, hostDecay is null, m.Slot.BitErrorRate, split.Kept, split.Inside));
                rows.Add(Report.RowOf($"conv{group}: first mark after overwriting{label} (paper BER {paper[group]:0.000})", attack.Spec.Name, attack.TestError, null, m, attack.WallSeconds / 60));
                rows.Add(Report.RowOf($"conv{group}: the overwriting mark{label}", attack, null));
                runs.Add(attack);
            }
        }

        string Bers(bool decayed) => string.Join(" / ", bers.Where(b => b.Decayed == decayed).Select(b => $"{b.Ber:0.000}"));
        string Range(bool decayed, Func<(int, bool, double, double Kept, double Inside), double> value)
        {
            var v = bers.Where(b => b.Decayed == decayed).Select(b => value(b)).ToArray();
            return $"{v.Min():0.00}–{v.Max():0.00}×";
        }

        notes.Add($"The first mark's BER in conv2 / conv3 / conv4 after overwriting: {Bers(true)} with the preset's weight decay on the host, {Bers(false)} without it (the authors' code has none); paper: 0.309 / 0.086 / 0.004 at twice our M (its conv2 and conv3 have the M of our conv3 and conv4).");
        notes.Add($"Why the first mark goes: the second regularizer moves w only inside the row space of its key X₂ (its gradient is X₂ᵀ(σ(X₂w) − 1)). Outside it no regularizer term holds the first mark's part of w, and the task loss little: with weight decay that part shrinks to {Range(true, b => b.Kept)} of its length, what SGD with momentum μ leaves by weight decay alone (exp(−wd·Σ lr / (1 − μ)) = {Shrinkage(options, steps):0.00}× over these {options.Epochs} epochs), while the part inside X₂'s rows grows to {Range(true, b => b.Inside)} the old |w|. Without weight decay the old part stays ({Range(false, b => b.Kept)}), but the second mark's part grows larger still ({Range(false, b => b.Inside)} the old |w|), so the first mark's projections X₁w keep more of their signs — the more, the larger M is against the 2 × 256 rows — yet not all.");
        return Result(runner, "§5.1: overwriting a mark with a second 256-bit mark in the same layer", command, rows, runs, [], notes, runs[0].Network);
    }

    // How the overwritten filter mean w₁ splits against the original w₀: outside the second key's row space
    // (where λ·E_R₂ cannot act) the fraction of w₀'s part that is left; inside it, the second mark's size.
    private static (string Text, double Kept, double Inside) Split(double[] w0, double[] w1, WatermarkKey second)
    {
        var in0 = KeyAnalysis.OntoRows(second, w0);
        var in1 = KeyAnalysis.OntoRows(second, w1);
        var out0 = w0.Select((v, i) => v - in0[i]).ToArray();
        var out1 = w1.Select((v, i) => v - in1[i]).ToArray();
        var kept = Robustness.Dot(out1, out0) / Robustness.Dot(out0, out0);
        var inside = Math.Sqrt(Robustness.Dot(in1, in1) / Robustness.Dot(w0, w0));
        return ($"outside the second key's row space w kept {kept:0.00}× of its old part, and its part inside that space (where the second mark is trained) is {inside:0.00}× as long as the old w", kept, inside);
    }

    // exp(−wd·Σ_steps lr / (1 − μ)): what SGD with momentum μ leaves of a weight direction that only weight decay acts on.
    private static double Shrinkage(TrainingOptions options, int stepsPerEpoch)
    {
        var decay = options.HostWeightDecay ?? options.WeightDecay;
        var sum = Enumerable.Range(0, options.Epochs).Sum(e => options.LearningRateAt(e)) * stepsPerEpoch;
        return Math.Exp(-decay * sum / (1 - options.Momentum));
    }
}
