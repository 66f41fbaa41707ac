using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using TorchSharp;
using Watermark;
using Watermark.Attacks;
using Watermark.Training;

namespace WideResNet.Experiments;

/// <summary>The paper's tables as commands. Each writes results/&lt;name&gt;.json, .md and its figures.</summary>
internal static class Experiment
{
    /// <summary>The experiments, in REPORT.md's order: the paper's §4 tables, its §4.3/§5 robustness study, then ours beyond it.</summary>
    public static readonly string[] Names = ["table4", "diffkey", "schedule", "table5a", "table5b", "table5c", "table7", "table6", "table8", "pruning", "overwrite", "transforms", "payload"];

    public static int Run(string name, string[] args)
    {
        Settings settings;
        try
        {
            settings = Settings.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            Console.Error.WriteLine(Settings.Usage);
            return 2;
        }

        torch.set_num_threads(settings.Threads);
        var runner = new Runner(settings);
        var command = $"dotnet run --project samples/WideResNet -c Release -- {name} {string.Join(' ', args)}".TrimEnd();
        try
        {
            var result = name switch
            {
                "table4" => Table4(runner, command),
                "table5a" => Table5a(runner, command),
                "table5b" => Table5b(runner, command),
                "table5c" => Table5c(runner, command),
                "table7" => Table7(runner, command),
                "schedule" => Schedule(runner, command),
                "diffkey" => DiffKey(runner, command),
                "table6" => Robustness.Table6(runner, command),
                "table8" => Robustness.Table8(runner, command),
                "pruning" => Robustness.Pruning(runner, command),
                "overwrite" => Robustness.Overwrite(runner, command),
                "transforms" => Robustness.Transforms(runner, command),
                "payload" => Payload.Run(runner, command),
                _ => throw new ArgumentException($"unknown experiment {name}"),
            };
            Report.Write(runner, result);
            return 0;
        }
        catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException or InvalidDataException or InvalidOperationException or WatermarkException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
    }

    /// <summary>The <c>report</c> command: REPORT.md from the JSON files already in the results folder.</summary>
    public static int WriteReport(string[] args)
    {
        try
        {
            Console.WriteLine($"wrote {Report.WriteReport(Settings.Parse(args).Out)}");
            return 0;
        }
        catch (Exception e) when (e is ArgumentException or IOException or System.Text.Json.JsonException or InvalidDataException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
    }

    /// <summary>The unmarked CIFAR-10 run of <paramref name="seed"/> (Table 4's "not embedded").</summary>
    internal static RunSpec None(ulong seed) => new($"cifar-none-s{seed}", seed, "cifar10", Embed: false);

    private static RunSpec Marked(ulong seed, KeyKind kind) => new($"cifar-{kind.ToString().ToLowerInvariant()}-s{seed}", seed, "cifar10", Embed: true, kind);

    private static ExperimentResult Result(Runner runner, string experiment, string title, string command, List<Row> rows, List<RunResult> runs, List<string> figures, List<string> notes) =>
        new(experiment, title, runner.Settings.Preset.Name, $"WRN-{runner.Settings.Preset.Depth}-{runner.Settings.Preset.Widen}", runner.Settings.Seed, command, DateTimeOffset.UtcNow, rows, runs, figures, notes);

    // Table 4, Fig. 1–3: train-to-embed with each key kind against no watermark (two seeds for the noise).
    private static ExperimentResult Table4(Runner runner, string command)
    {
        var s = runner.Settings.Seed;
        var none = runner.Get(None(s));
        var none2 = runner.Get(None(s + 1));
        var direct = runner.Get(Marked(s, KeyKind.Direct));
        var diff = runner.Get(Marked(s, KeyKind.Diff));
        var random = runner.Get(Marked(s, KeyKind.Random));
        var noneAsRandom = Measure(runner, none, runner.KeyFor(Marked(s, KeyKind.Random)));
        var rows = new List<Row>
        {
            Report.RowOf($"not embedded (seed {s})", noneAsRandom, 8.04),
            Report.RowOf($"not embedded (seed {s + 1})", Measure(runner, none2, runner.KeyFor(Marked(s, KeyKind.Random))), null),
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
        return Result(runner, "table4", "Table 4: test error and embedding loss with and without a 256-bit watermark in conv2", command, rows, [none, none2, direct, diff, random], ["table4-fig1-training-curves.png", "table4-fig2-histograms.png", "table4-fig3-weights.png"], notes);
    }

    // The cost of the mark against the length of training: no mark and the random key at the preset's length and at twice it.
    private static ExperimentResult Schedule(Runner runner, string command)
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
            var none = at.Get(None(s));
            var random = at.Get(Marked(s, KeyKind.Random));
            var milestones = string.Join('/', preset.Options(s, epochs).Milestones);
            rows.Add(Report.RowOf($"{epochs} epochs (lr × 0.2 at {milestones}), not embedded", Measure(at, none, at.KeyFor(random.Spec)), null));
            rows.Add(Report.RowOf($"{epochs} epochs (lr × 0.2 at {milestones}), embedded, random", random, preset.Name == "paper" && epochs == preset.Epochs ? 7.97 : null));
            curves.Add(Report.Curve($"not embedded, {epochs} epochs", none));
            curves.Add(Report.Curve($"random, {epochs} epochs", random));
            var pruned = PrunedBer(at, random, 0.65);
            notes.Add($"{epochs} epochs: cost of the mark {100 * (random.TestError - none.TestError):+0.00;-0.00} points (seed {s}), BER {random.BitErrorRate:0.000}, BER after pruning 65% of conv2 by magnitude {pruned.BitErrorRate:0.000} (p = {pruned.PValue}); {none.ImagesPerSecond:F0} images/s, {none.History.Average(h => h.Seconds):F0} s per epoch.{Report.Memory(none)}{Report.Memory(random)}");
            runs.AddRange([none, random]);
        }

        notes.Add("Run-to-run noise of the unmarked network at the preset's length is in table4.md (two seeds).");
        Figures.TrainingCurves(Path.Combine(runner.Settings.Out, "schedule-training-curves.png"), "Test error against training length, with and without the mark", curves);
        return Result(runner, "schedule", "The cost of the mark against the length of training", command, rows, runs, ["schedule-training-curves.png"], notes);
    }

    // Why the diff key loses bits: train-to-embed with the diff key with and without weight decay on the host,
    // beside what KeyAnalysis predicts for each from the key alone.
    private static ExperimentResult DiffKey(Runner runner, string command)
    {
        var s = runner.Settings.Seed;
        var decayed = runner.Get(Marked(s, KeyKind.Diff));
        var free = runner.Get(Marked(s, KeyKind.Diff) with { Name = $"cifar-diff-s{s}-host-wd0", HostWeightDecay = 0 });
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
        return Result(runner, "diffkey", "Why the diff key loses bits: weight decay against λ·E_R", command, rows, [decayed, free], [], notes);
    }

    // Table 5a: fine-tune-to-embed, CIFAR-10 → CIFAR-10 (lr reset to 0.1, as the paper's footnote 5).
    private static ExperimentResult Table5a(Runner runner, string command)
    {
        var s = runner.Settings.Seed;
        var first = runner.Get(None(s));
        var key = runner.KeyFor(Marked(s, KeyKind.Random));
        var second = runner.Get(new RunSpec($"cifar-none-s{s}-ft-none", s + 10, "cifar10", Embed: false, StartFrom: first.Spec.Name, KeySeed: s));
        var embedded = runner.Get(new RunSpec($"cifar-none-s{s}-ft-random", s + 10, "cifar10", Embed: true, KeyKind.Random, StartFrom: first.Spec.Name, KeySeed: s));
        var rows = new List<Row>
        {
            Report.RowOf("not embedded, 1st", Measure(runner, first, key), 8.04),
            Report.RowOf("not embedded, 2nd", Measure(runner, second, key), 7.66),
            Report.RowOf("embedded (2nd)", embedded, 7.70),
        };
        Figures.TrainingCurves(Path.Combine(runner.Settings.Out, "table5a-fig4-training-curves.png"), "Fig. 4: fine-tuning CIFAR-10 → CIFAR-10", [Report.Curve("not embedded 2nd", second), Report.Curve("embedded 2nd", embedded)]);
        return Result(runner, "table5a", "Table 5 (a): fine-tune-to-embed, CIFAR-10 → CIFAR-10", command, rows, [first, second, embedded], ["table5a-fig4-training-curves.png"], []);
    }

    // Table 5b: fine-tune-to-embed, Caltech-101 → CIFAR-10 (new classifier head).
    private static ExperimentResult Table5b(Runner runner, string command)
    {
        var s = runner.Settings.Seed;
        var first = runner.Get(new RunSpec($"caltech-none-s{s}", s, "caltech101", Embed: false));
        var key = runner.KeyFor(Marked(s, KeyKind.Random));
        var second = runner.Get(new RunSpec($"caltech-none-s{s}-ft-none", s + 10, "cifar10", Embed: false, StartFrom: first.Spec.Name, NewHead: true, KeySeed: s));
        var embedded = runner.Get(new RunSpec($"caltech-none-s{s}-ft-random", s + 10, "cifar10", Embed: true, KeyKind.Random, StartFrom: first.Spec.Name, NewHead: true, KeySeed: s));
        var rows = new List<Row>
        {
            Report.RowOf("not embedded, 2nd", Measure(runner, second, key), 7.93),
            Report.RowOf("embedded (2nd)", embedded, 7.94),
        };
        Figures.TrainingCurves(Path.Combine(runner.Settings.Out, "table5b-fig4-training-curves.png"), "Fig. 4: fine-tuning Caltech-101 → CIFAR-10", [Report.Curve("not embedded 2nd", second), Report.Curve("embedded 2nd", embedded)]);
        var notes = new List<string> { $"First training on Caltech-101 (101 classes, 3,030 images, {first.History.Count} epochs): test error {100 * first.TestError:F2}% on its 2,658 test images." };
        return Result(runner, "table5b", "Table 5 (b): fine-tune-to-embed, Caltech-101 → CIFAR-10", command, rows, [first, second, embedded], ["table5b-fig4-training-curves.png"], notes);
    }

    // Table 5c: distill-to-embed: the 1st network's soft predictions replace the labels.
    private static ExperimentResult Table5c(Runner runner, string command)
    {
        var s = runner.Settings.Seed;
        var first = runner.Get(None(s));
        var key = runner.KeyFor(Marked(s, KeyKind.Random));
        var second = runner.Get(new RunSpec($"cifar-none-s{s}-distill-none", s + 10, "cifar10", Embed: false, StartFrom: first.Spec.Name, Teacher: first.Spec.Name, KeySeed: s));
        var embedded = runner.Get(new RunSpec($"cifar-none-s{s}-distill-random", s + 10, "cifar10", Embed: true, KeyKind.Random, StartFrom: first.Spec.Name, Teacher: first.Spec.Name, KeySeed: s));
        var rows = new List<Row>
        {
            Report.RowOf("not embedded, 1st", Measure(runner, first, key), 8.04),
            Report.RowOf("not embedded, 2nd (distilled)", Measure(runner, second, key), 7.86),
            Report.RowOf("embedded (distilled)", embedded, 7.75),
        };
        var memory = (Report.Memory(second) + Report.Memory(embedded)).Trim();
        return Result(runner, "table5c", "Table 5 (c): distill-to-embed, CIFAR-10 → CIFAR-10, no labels in the 2nd training", command, rows, [first, second, embedded], [], memory.Length > 0 ? [memory] : []);
    }

    // Table 7: embedding without training (Eq. 6) into the trained unmarked network, for λ = 0, 1, 10, 100.
    private static ExperimentResult Table7(Runner runner, string command)
    {
        var s = runner.Settings.Seed;
        var first = runner.Get(None(s));
        var key = runner.KeyFor(Marked(s, KeyKind.Random));
        var paper = new Dictionary<double, double> { [0] = 8.04, [1] = 8.52, [10] = 10.57, [100] = 13.00 };
        var paperBer = new Dictionary<double, double> { [0] = 0.531, [1] = 0.324, [10] = 0, [100] = 0 };
        var rows = new List<Row>();
        var test = SampleTraining.TestBatches(runner.CifarTest);
        foreach (var lambda in paper.Keys)
        {
            var clock = Stopwatch.StartNew();
            using var model = runner.Load(first.Spec.Name);
            var host = Runner.Host(model, key.Parameter);
            DirectEmbedding.Embed(host, key, lambda);
            var (er, slot) = Runner.Measure(model, key);

            var error = Trainer.Evaluate(model, test);
            rows.Add(new Row($"λ = {lambda} (paper BER {paperBer[lambda]:0.000})", first.Spec.Name, error, paper[lambda], er, slot.BitErrorRate, slot.PValue.ToString(), clock.Elapsed.TotalMinutes));
            Console.WriteLine($"λ = {lambda}: test error {100 * error:F2}%, BER {slot.BitErrorRate:F3}");
        }

        var notes = new List<string> { "Only conv2's host weight moves, by 2,000 Adam steps (lr 1e-3) on λ·E_R + ‖W − W₀‖², from the trained unmarked network." };
        return Result(runner, "table7", "Table 7: embedding without training (Eq. 6)", command, rows, [first], [], notes);
    }

    private static SlotVerification PrunedBer(Runner runner, RunResult run, double rate)
    {
        var key = runner.KeyFor(run.Spec);
        using var model = runner.Load(run.Spec.Name);
        Runner.Host(model, key.Parameter).Prune(rate, PruningOrder.Ascending, seed: 1);
        return Runner.Measure(model, key).Slot;
    }

    // Median over every epoch of the runs: runs that shared the cores with other work show as the slow tail.
    private static string Throughput(IEnumerable<RunResult> runs)
    {
        var epochs = runs.SelectMany(r => r.History).OrderBy(h => h.Seconds).ToArray();
        var median = epochs[epochs.Length / 2];
        return FormattableString.Invariant($"Throughput: median epoch {median.Seconds:F0} s of training, {median.ImagesPerSecond:F0} images/s (fastest {epochs[0].ImagesPerSecond:F0}, slowest {epochs[^1].ImagesPerSecond:F0} images/s over {epochs.Length} epochs; slow epochs shared the 2 cores with other work).");
    }

    private static RunResult Measure(Runner runner, RunResult run, WatermarkKey key)
    {
        using var model = runner.Load(run.Spec);
        var (er, slot) = Runner.Measure(model, key);

        return run with { EmbeddingLoss = er, BitErrorRate = slot.BitErrorRate, Matched = slot.Matched, PValue = slot.PValue.ToString(), PValueLog10 = slot.PValue.Log10, Projection = [.. slot.Projection] };
    }

    private static float[] HostWeights(Runner runner, RunResult run)
    {
        using var model = runner.Load(run.Spec.Name);
        return Runner.Host(model, Model.WideResNet.HostParameter(2)).detach().data<float>().ToArray();
    }
}
