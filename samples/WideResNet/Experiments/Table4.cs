using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Watermark;

namespace WideResNet.Experiments;

/// <summary>Table 4, Fig. 1–3: train-to-embed with each key kind against no watermark (two seeds for the noise).</summary>
internal sealed class Table4() : Experiment("table4", "train-to-embed: not embedded (2 seeds) / direct / diff / random key (Fig. 1-3)")
{
    public override ExperimentResult Run(Runner runner, string command)
    {
        var s = runner.Settings.Seed;
        var none = runner.Get(Runs.None(s));
        var none2 = runner.Get(Runs.None(s + 1));
        var direct = runner.Get(Runs.Marked(s, KeyKind.Direct));
        var diff = runner.Get(Runs.Marked(s, KeyKind.Diff));
        var random = runner.Get(Runs.Marked(s, KeyKind.Random));
        var noneAsRandom = runner.Measure(none, runner.KeyFor(Runs.Marked(s, KeyKind.Random)));
        var rows = new List<Row>
        {
            Report.RowOf($"not embedded (seed {s})", noneAsRandom, 8.04),
            Report.RowOf($"not embedded (seed {s + 1})", runner.Measure(none2, runner.KeyFor(Runs.Marked(s, KeyKind.Random))), null),
            Report.RowOf("embedded, direct", direct, 8.21),
            Report.RowOf("embedded, diff", diff, 8.37),
            Report.RowOf("embedded, random", random, 7.97),
        };
        var folder = runner.Settings.Out;
        Figures.TrainingCurves(Path.Combine(folder, "table4-fig1-training-curves.png"), $"Fig. 1: training curves ({runner.Settings.Preset.Name} preset)", [Report.Curve("not embedded", none), Report.Curve("direct", direct), Report.Curve("diff", diff), Report.Curve("random", random)]);
        Figures.ProjectionHistograms(Path.Combine(folder, "table4-fig2-histograms.png"), "Fig. 2: y = σ(Xw), random key, conv2", [("embedded", random.Projection), ("not embedded", noneAsRandom.Projection)]);
        Figures.WeightDistributions(Path.Combine(folder, "table4-fig3-weights.png"), "Fig. 3: conv2 weights", [("not embedded", HostWeights(runner, none)), ("direct", HostWeights(runner, direct)), ("diff", HostWeights(runner, diff)), ("random", HostWeights(runner, random))]);
        var notes = new List<string>
        {
            $"Run-to-run noise of the unmarked network: {Report.Mean([none.TestError, none2.TestError])}. Cost of the random-key mark: {100 * (random.TestError - none.TestError):+0.00;-0.00} points against the same seed.",
            Throughput([none, none2, direct, diff, random]),
        };
        foreach (var run in new[] { direct, diff, random })
        {
            var key = runner.KeyFor(run.Spec);
            var (feasible, equilibrium, ridge) = KeyAnalysis.WrongBits(key, (int)key.Shape[0], runner.Settings.Preset.WeightDecay);
            notes.Add($"Key analysis, {run.Spec.Kind}: {feasible} of {key.Bits} bits cannot be set at all (contradictory rows); {equilibrium} stay wrong where weight decay balances λ·E_R (minimum of E_R + {ridge:0.##}·‖w‖²); trained: {key.Bits - run.Matched} wrong.");
        }

        if (runner.Settings.Preset.Name != "paper")
        {
            var wide = new Runner(runner.Settings with { Preset = Preset.Paper }).KeyFor(diff.Spec);
            var (feasible, equilibrium, ridge) = KeyAnalysis.WrongBits(wide, (int)wide.Shape[0], Preset.Paper.WeightDecay);
            notes.Add($"The diff key at the paper's width (WRN-10-4, M = {wide.FilterMeanLength}, ρ = {ridge:0.##}): {feasible} bits contradictory, {equilibrium} wrong at the same balance of λ·E_R against a restoring force (see diffkey).");
        }
        return Result(runner, "Table 4: test error and embedding loss with and without a 256-bit watermark in conv2", command, rows, [none, none2, direct, diff, random], ["table4-fig1-training-curves.png", "table4-fig2-histograms.png", "table4-fig3-weights.png"], notes);
    }

    // Median over every epoch of the runs: runs that shared the cores with other work show as the slow tail.
    private static string Throughput(IEnumerable<RunResult> runs)
    {
        var epochs = runs.SelectMany(r => r.History).OrderBy(h => h.Seconds).ToArray();
        var median = epochs[epochs.Length / 2];
        return FormattableString.Invariant($"Throughput: median epoch {median.Seconds:F0} s of training, {median.ImagesPerSecond:F0} images/s (fastest {epochs[0].ImagesPerSecond:F0}, slowest {epochs[^1].ImagesPerSecond:F0} images/s over {epochs.Length} epochs; slow epochs shared the 2 cores with other work).");
    }

    private static float[] HostWeights(Runner runner, RunResult run)
    {
        using var model = runner.Load(run.Spec.Name);
        return Runner.Host(model, Model.WideResNet.HostParameter(2)).detach().data<float>().ToArray();
    }
}
