using System.Collections.Generic;
using Watermark;

namespace WideResNet.Experiments;

/// <summary>Table 5 (c): distill-to-embed: the 1st network's soft predictions replace the labels.</summary>
internal sealed class Table5c() : Experiment("table5c", "distill-to-embed: soft targets of the trained network, no labels")
{
    public override ExperimentResult Run(Runner runner, string command)
    {
        var s = runner.Settings.Seed;
        var first = runner.Get(Runs.None(s));
        var key = runner.KeyFor(Runs.Marked(s, KeyKind.Random));
        var second = runner.Get(new RunSpec($"cifar-none-s{s}-distill-none", s + 10, "cifar10", Embed: false, StartFrom: first.Spec.Name, Teacher: first.Spec.Name, KeySeed: s));
        var embedded = runner.Get(new RunSpec($"cifar-none-s{s}-distill-random", s + 10, "cifar10", Embed: true, KeyKind.Random, StartFrom: first.Spec.Name, Teacher: first.Spec.Name, KeySeed: s));
        var rows = new List<Row>
        {
            Report.RowOf("not embedded, 1st", runner.Measure(first, key), 8.04),
            Report.RowOf("not embedded, 2nd (distilled)", runner.Measure(second, key), 7.86),
            Report.RowOf("embedded (distilled)", embedded, 7.75),
        };
        var memory = (Report.Memory(second) + Report.Memory(embedded)).Trim();
        return Result(runner, "Table 5 (c): distill-to-embed, CIFAR-10 → CIFAR-10, no labels in the 2nd training", command, rows, [first, second, embedded], [], memory.Length > 0 ? [memory] : []);
    }
}
