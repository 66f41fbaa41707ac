using System.Collections.Generic;
using Watermark;

namespace WideResNet.Experiments;

/// <summary>
/// Why the diff key loses bits: train-to-embed with the diff key with and without weight decay on the host,
/// beside what <see cref="KeyAnalysis"/> predicts for each from the key alone.
/// </summary>
internal sealed class DiffKey() : Experiment("diffkey", "the diff key with and without weight decay on the host, against the key analysis")
{
    public override ExperimentResult Run(Runner runner, string command)
    {
        var s = runner.Settings.Seed;
        var decayed = runner.Get(Runs.Marked(s, KeyKind.Diff));
        var free = runner.Get(Runs.Marked(s, KeyKind.Diff) with { Name = $"cifar-diff-s{s}-host-wd0", HostWeightDecay = 0 });
        var key = runner.KeyFor(decayed.Spec);
        var (feasible, equilibrium, ridge) = KeyAnalysis.WrongBits(key, (int)key.Shape[0], runner.Settings.Preset.WeightDecay);
        var rows = new List<Row>
        {
            Report.RowOf($"diff key, weight decay {runner.Settings.Preset.WeightDecay} on conv2 too (predicted {equilibrium} wrong bits)", decayed, 8.37),
            Report.RowOf($"diff key, no weight decay on conv2 ({feasible} bits contradictory)", free, null),
        };
        var notes = new List<string>
        {
            $"Trained: {key.Bits - decayed.Matched} of {key.Bits} bits wrong with weight decay on the host, {key.Bits - free.Matched} without. Predicted from the key alone: {equilibrium} at the minimum of E_R + {ridge:0.##}·‖w‖² (weight decay against λ·E_R), {feasible} at the minimum of E_R alone (rows that contradict each other: a directed cycle of pairs w_a > w_b > … > w_a).",
            "The restoring force ρ‖w‖² that weight decay alone exerts on the filter mean predicts the decayed run's count, but lifting weight decay from the host frees only a few bits: the task loss holds the filter means about as firmly. A diff row's projection is w_a − w_b, tiny beside a random row's (‖x‖² = 2 against M), so λ·E_R pulls weakly and loses wherever pairs that share columns push in opposite directions; a larger λ, not weight decay, is what the diff key would need. The random key, the paper's choice for every later experiment and the library's default, has neither problem (0 and 0 predicted, 0 trained).",
            "The paper's tables keep weight decay 5e-4 on every layer; TrainingOptions.HostWeightDecay stays available for hosts that should not decay.",
        };
        return Result(runner, "Why the diff key loses bits: weight decay against λ·E_R", command, rows, [decayed, free], [], notes);
    }
}
