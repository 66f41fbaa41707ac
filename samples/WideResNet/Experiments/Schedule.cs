using System.Collections.Generic;
using System.IO;
using System.Linq;
using Watermark;
using Watermark.Attacks;

namespace WideResNet.Experiments;

/// <summary>The cost of the mark against the length of training: no mark and the random key at the preset's length and at twice it.</summary>
internal sealed class Schedule() : Experiment("schedule", "the cost of the mark at the preset's length and at twice it")
{
    public override ExperimentResult Run(Runner runner, string command)
    {
        var s = runner.Settings.Seed;
        var preset = runner.Settings.Preset;
        var first = runner.Settings.Epochs ?? preset.Epochs;
        var rows = new List<Row>();
        var runs = new List<RunResult>();
        var curves = new List<(string, double[], double[], double[])>();
        var notes = new List<string>();
        foreach (var epochs in new[] { first, 2 * first })
        {
            var at = epochs == first ? runner : new Runner(runner.Settings with { Epochs = epochs });
            var none = at.Get(Runs.None(s));
            var random = at.Get(Runs.Marked(s, KeyKind.Random));
            var milestones = string.Join('/', preset.Options(s, epochs).Milestones);
            rows.Add(Report.RowOf($"{epochs} epochs (lr × 0.2 at {milestones}), not embedded", at.Measure(none, at.KeyFor(random.Spec)), null));
            rows.Add(Report.RowOf($"{epochs} epochs (lr × 0.2 at {milestones}), embedded, random", random, preset.Name == "paper" && epochs == preset.Epochs ? 7.97 : null));
            curves.Add(Report.Curve($"not embedded, {epochs} epochs", none));
            curves.Add(Report.Curve($"random, {epochs} epochs", random));
            var pruned = PrunedBer(at, random, 0.65);
            notes.Add($"{epochs} epochs: cost of the mark {100 * (random.TestError - none.TestError):+0.00;-0.00} points (seed {s}), BER {random.BitErrorRate:0.000}, BER after pruning 65% of conv2 by magnitude {pruned.BitErrorRate:0.000} (p = {pruned.PValue}); {none.ImagesPerSecond:F0} images/s, {none.History.Average(h => h.Seconds):F0} s per epoch.{Report.Memory(none)}{Report.Memory(random)}");
            runs.AddRange([none, random]);
        }

        notes.Add("Run-to-run noise of the unmarked network at the preset's length is in table4.md (two seeds).");
        Figures.TrainingCurves(Path.Combine(runner.Settings.Out, "schedule-training-curves.png"), "Test error against training length, with and without the mark", curves);
        return Result(runner, "The cost of the mark against the length of training", command, rows, runs, ["schedule-training-curves.png"], notes);
    }

    private static SlotVerification PrunedBer(Runner runner, RunResult run, double rate)
    {
        var key = runner.KeyFor(run.Spec);
        using var model = runner.Load(run.Spec.Name);
        Runner.Host(model, key.Parameter).Prune(rate, PruningOrder.Ascending, seed: 1);
        return Runner.Measure(model, key).Slot;
    }
}
