using System.Collections.Generic;
using System.IO;
using Watermark;

namespace WideResNet.Experiments;

/// <summary>Table 5 (a): fine-tune-to-embed, CIFAR-10 → CIFAR-10 (lr reset to 0.1, as the paper's footnote 5).</summary>
internal sealed class Table5a() : Experiment("table5a", "fine-tune-to-embed CIFAR-10 -> CIFAR-10 (Fig. 4)")
{
    public override ExperimentResult Run(Runner runner, string command)
    {
        var s = runner.Settings.Seed;
        var first = runner.Get(Runs.None(s));
        var key = runner.KeyFor(Runs.Marked(s, KeyKind.Random));
        var second = runner.Get(new RunSpec($"cifar-none-s{s}-ft-none", s + 10, "cifar10", Embed: false, StartFrom: first.Spec.Name, KeySeed: s));
        var embedded = runner.Get(new RunSpec($"cifar-none-s{s}-ft-random", s + 10, "cifar10", Embed: true, KeyKind.Random, StartFrom: first.Spec.Name, KeySeed: s));
        var rows = new List<Row>
        {
            Report.RowOf("not embedded, 1st", runner.Measure(first, key), 8.04),
            Report.RowOf("not embedded, 2nd", runner.Measure(second, key), 7.66),
            Report.RowOf("embedded (2nd)", embedded, 7.70),
        };
        Figures.TrainingCurves(Path.Combine(runner.Settings.Out, "table5a-fig4-training-curves.png"), "Fig. 4: fine-tuning CIFAR-10 → CIFAR-10", [Report.Curve("not embedded 2nd", second), Report.Curve("embedded 2nd", embedded)]);
        return Result(runner, "Table 5 (a): fine-tune-to-embed, CIFAR-10 → CIFAR-10", command, rows, [first, second, embedded], ["table5a-fig4-training-curves.png"], []);
    }
}
