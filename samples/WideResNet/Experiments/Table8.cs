using System.Collections.Generic;
using System.Linq;
using Watermark;

namespace WideResNet.Experiments;

/// <summary>Table 8: fine-tuning without the regularizer, lr reset to 0.1 (paper footnote 5).</summary>
internal sealed class Table8() : Experiment("table8", "fine-tuning attack (no regularizer) CIFAR-10 -> CIFAR-10 and Caltech-101 -> CIFAR-10")
{
    public override ExperimentResult Run(Runner runner, string command)
    {
        var s = runner.Settings.Seed;
        var marked = runner.Get(Runs.Marked(s));
        var key = runner.KeyFor(marked.Spec);
        var same = runner.Get(Runs.FineTuneAttack(s, marked.Spec));
        var caltechMarked = runner.Get(new RunSpec($"caltech-random-s{s}", s, "caltech101", Embed: true, KeyKind.Random));
        var other = runner.Get(new RunSpec($"caltech-random-s{s}-ft-attack", s + 20, "cifar10", Embed: false, StartFrom: caltechMarked.Spec.Name, NewHead: true, KeySeed: s));
        var rows = new List<Row>
        {
            Report.RowOf("CIFAR-10 → CIFAR-10: before fine-tuning", marked, null),
            Report.RowOf("CIFAR-10 → CIFAR-10: after (best test error below)", same with { TestError = same.History.Min(h => h.TestError) }, 7.69),
            Report.RowOf("Caltech-101 → CIFAR-10: before (Caltech test error)", caltechMarked, null),
            Report.RowOf("Caltech-101 → CIFAR-10: after (best test error below)", other with { TestError = other.History.Min(h => h.TestError) }, 7.88),
        };
        string Change(RunResult before, RunResult after) =>
            $"E_R {before.EmbeddingLoss:0.##} → {after.EmbeddingLoss:0.##}, BER {before.BitErrorRate:0.000} → {after.BitErrorRate:0.000} (p = {after.PValue}) after {after.History.Count} epochs of fine-tuning; the mark was embedded over {before.History.Count} epochs";
        var notes = new List<string>
        {
            "Paper: BER 0 after fine-tuning in both cases; E_R rises slightly but stays low.",
            $"CIFAR-10 → CIFAR-10: {Change(marked, same)}; fine-tuning {Drift(runner, marked, same)}.",
            $"Caltech-101 → CIFAR-10 (new classifier head): {Change(caltechMarked, other)}; fine-tuning {Drift(runner, caltechMarked, other)}.",
            "E_R is a sum of binary cross-entropies over the bits: it can rise a lot while every y = σ(Xw) stays on its side of ½, so every bit keeps its value; BER and p decide presence.",
        };
        var memory = string.Concat(new[] { caltechMarked, other }.Select(Report.Memory)).Trim();
        if (memory.Length > 0)
        {
            notes.Add(memory);
        }

        return Result(runner, "Table 8: robustness against fine-tuning (no regularizer, lr reset to 0.1)", command, rows, [marked, same, caltechMarked, other], [], notes, marked.Network);
    }

    // "moved w by r× its length (cosine c)": how far the fine-tuning moved the host's filter mean.
    private static string Drift(Runner runner, RunResult before, RunResult after)
    {
        var parameter = runner.KeyFor(before.Spec).Parameter;
        using var first = runner.Load(before.Spec);
        using var second = runner.Load(after.Spec);
        return Robustness.Drift(Robustness.FilterMean(first, parameter), Robustness.FilterMean(second, parameter));
    }
}
