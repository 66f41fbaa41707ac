using System.Collections.Generic;
using System.IO;
using Watermark;

namespace WideResNet.Experiments;

/// <summary>Table 5 (b): fine-tune-to-embed, Caltech-101 → CIFAR-10 (new classifier head).</summary>
internal sealed class Table5b() : Experiment("table5b", "fine-tune-to-embed Caltech-101 -> CIFAR-10, new classifier (Fig. 4)")
{
    public override ExperimentResult Run(Runner runner, string command)
    {
        var s = runner.Settings.Seed;
        var first = runner.Get(new RunSpec($"caltech-none-s{s}", s, "caltech101", Embed: false));
        var key = runner.KeyFor(Runs.Marked(s, KeyKind.Random));
        var second = runner.Get(new RunSpec($"caltech-none-s{s}-ft-none", s + 10, "cifar10", Embed: false, StartFrom: first.Spec.Name, NewHead: true, KeySeed: s));
        var embedded = runner.Get(new RunSpec($"caltech-none-s{s}-ft-random", s + 10, "cifar10", Embed: true, KeyKind.Random, StartFrom: first.Spec.Name, NewHead: true, KeySeed: s));
        var rows = new List<Row>
        {
            Report.RowOf("not embedded, 2nd", runner.Measure(second, key), 7.93),
            Report.RowOf("embedded (2nd)", embedded, 7.94),
        };
        Figures.TrainingCurves(Path.Combine(runner.Settings.Out, "table5b-fig4-training-curves.png"), "Fig. 4: fine-tuning Caltech-101 → CIFAR-10", [Report.Curve("not embedded 2nd", second), Report.Curve("embedded 2nd", embedded)]);
        var notes = new List<string> { $"First training on Caltech-101 (101 classes, 3,030 images, {first.History.Count} epochs): test error {100 * first.TestError:F2}% on its 2,658 test images." };
        return Result(runner, "Table 5 (b): fine-tune-to-embed, Caltech-101 → CIFAR-10", command, rows, [first, second, embedded], ["table5b-fig4-training-curves.png"], notes);
    }
}
