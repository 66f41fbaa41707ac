using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using Watermark;
using Watermark.Alignment;

namespace WideResNet.Experiments;

/// <summary>What an experiment leaves in the results folder (its JSON and Markdown page) and REPORT.md, which gathers them; the <c>report</c> command.</summary>
internal static class Report
{
    /// <summary>The <c>report</c> command: REPORT.md from the JSON files already in the results folder.</summary>
    public static int Run(string[] args)
    {
        try
        {
            Console.WriteLine($"wrote {WriteReport(Settings.Parse(args).Out)}");
            return 0;
        }
        catch (Exception e) when (e is ArgumentException or IOException or System.Text.Json.JsonException or InvalidDataException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
    }

    public static void Write(Runner runner, ExperimentResult result)
    {
        var out_ = runner.Settings.Out;
        Runner.WriteJson(Path.Combine(out_, $"{result.Experiment}.json"), result);
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"# {result.Title}");
        Section(md, result);
        WriteText(Path.Combine(out_, $"{result.Experiment}.md"), md.ToString());
        Console.WriteLine($"wrote {Path.Combine(out_, result.Experiment + ".json")} and .md");
        WriteReport(out_);
    }

    /// <summary>REPORT.md: every experiment's table, notes and figures from the JSON files in <paramref name="folder"/>, in the paper's order.</summary>
    public static string WriteReport(string folder)
    {
        var md = new StringBuilder();
        md.AppendLine("# Uchida et al. (2017) reproduced with TorchSharp");
        md.AppendLine();
        md.AppendLine("Generated from the `*.json` files in this folder by `dotnet run --project samples/WideResNet -c Release -- report` (each experiment also rewrites it when it finishes). Every row gives our number beside the paper's (WRN-10-4, 200 epochs, CIFAR-10); each section names its preset, seed and the command that reproduces it.");
        var missing = new List<string>();
        foreach (var name in Registry.Names)
        {
            var path = Path.Combine(folder, $"{name}.json");
            if (!File.Exists(path))
            {
                missing.Add(name);
                continue;
            }

            var result = Runner.ReadJson<ExperimentResult>(path);
            md.AppendLine();
            md.AppendLine(CultureInfo.InvariantCulture, $"## {result.Title}");
            Section(md, result);
        }

        if (missing.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("## Not run yet");
            md.AppendLine();
            foreach (var name in missing)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"- `{name}`: `dotnet run --project samples/WideResNet -c Release -- {name} --preset cpu --data ../shared/datasets`");
            }
        }

        var report = Path.Combine(folder, "REPORT.md");
        WriteText(report, md.ToString());
        return report;
    }

    private static void Section(StringBuilder md, ExperimentResult result)
    {
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Preset `{result.Preset}` ({result.Network}), seed {result.Seed}, finished {result.Finished:yyyy-MM-dd}; reproduce with `{result.Command}`.");
        if (result.Rows.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("| setting | test error (ours) | test error (paper, WRN-10-4, 200 epochs) | E_R | BER | p-value | minutes |");
            md.AppendLine("|---|---|---|---|---|---|---|");
            foreach (var row in result.Rows)
            {
                var error = double.IsNaN(row.TestError) ? "–" : string.Create(CultureInfo.InvariantCulture, $"{100 * row.TestError:F2}%");
                md.AppendLine(CultureInfo.InvariantCulture, $"| {row.Setting} | {error} | {(row.PaperTestError is { } p ? string.Create(CultureInfo.InvariantCulture, $"{p:F2}%") : "–")} | {(double.IsNaN(row.EmbeddingLoss) ? "–" : row.EmbeddingLoss.ToString("0.####", CultureInfo.InvariantCulture))} | {(double.IsNaN(row.BitErrorRate) ? "–" : row.BitErrorRate.ToString("0.000", CultureInfo.InvariantCulture))} | {row.PValue} | {row.Minutes:F1} |");
            }

            md.AppendLine();
            md.AppendLine("E_R, BER and p are measured with the run's key (for unmarked runs: the key the marked run used, so they show the null case).");
        }

        if (result.Aligned is { } aligned)
        {
            AlignedSection(md, aligned);
        }

        if (result.Removal is { } removal)
        {
            RemovalSection(md, removal);
        }

        foreach (var note in result.Notes)
        {
            md.AppendLine();
            md.AppendLine(note);
        }

        foreach (var figure in result.Figures)
        {
            md.AppendLine();
            md.AppendLine(CultureInfo.InvariantCulture, $"![{figure}]({figure})");
        }
    }

    // verify --reference results (AlignNull): a table per group, then the summary over the null models.
    private static void AlignedSection(StringBuilder md, List<AlignedRow> rows)
    {
        static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
        static double Confidence(AlignedRow r) => Math.Min(r.MeanInputCosine, r.MeanOutputCosine);
        foreach (var group in rows.Select(r => r.Group).Distinct())
        {
            var members = rows.Where(r => r.Group == group).ToList();
            md.AppendLine();
            md.AppendLine(CultureInfo.InvariantCulture, $"**{group}** ({members.Select(r => r.Model).Distinct().Count()} models)");
            md.AppendLine();
            md.AppendLine("| model | how it came about | signatures | plain bits | plain BER | plain log10 p | aligned bits | aligned BER | aligned log10 p | mean cos in / out | confident | verdict |");
            md.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
            string? last = null;
            foreach (var r in members)
            {
                var first = r.Model != last;
                last = r.Model;
                md.AppendLine(CultureInfo.InvariantCulture, $"| {(first ? r.Model : string.Empty)} | {(first ? r.Detail : string.Empty)} | {r.Signatures} | {r.PlainMatched}/{r.Bits} | {F(r.PlainBer, "0.000")} | {F(r.PlainLog10P, "0.0")} | {r.AlignedMatched}/{r.Bits} | {F(r.AlignedBer, "0.000")} | {F(r.AlignedLog10P, "0.0")} | {F(r.MeanInputCosine, "0.000")} / {F(r.MeanOutputCosine, "0.000")} | {(r.Confident ? "yes" : "no")} | {(r.Present ? "PRESENT" : "absent")} |");
            }
        }

        var nulls = rows.Where(r => r.Group != AlignNull.Positive).ToList();
        var positives = rows.Where(r => r.Group == AlignNull.Positive).ToList();
        if (nulls.Count == 0)
        {
            return;
        }

        string Name(AlignedRow r) => $"{r.Model} ({r.Signatures})";
        var top = nulls.MaxBy(Confidence)!;
        var smallest = nulls.MinBy(r => r.AlignedLog10P)!;
        var smallestPlain = nulls.MinBy(r => r.PlainLog10P)!;
        var confident = nulls.Where(r => r.Confident).ToList();
        var flagged = nulls.Where(r => r.Present).ToList();
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"**Summary** over {nulls.Select(r => r.Model).Distinct().Count()} null models ({nulls.Count} checks; confidence = the smaller of the two mean cosines, the gate opens at {F(AlignmentOptions.Default.ConfidenceThreshold, "0.0#")}):");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"- highest confidence among the nulls: {F(Confidence(top), "0.000")} ({Name(top)})");
        if (positives.Count > 0)
        {
            var weakest = positives.MinBy(Confidence)!;
            md.AppendLine(CultureInfo.InvariantCulture, $"- lowest confidence among the positives: {F(Confidence(weakest), "0.000")} ({Name(weakest)}); positives present after alignment: {positives.Count(r => r.Present)} of {positives.Count}");
        }

        md.AppendLine(CultureInfo.InvariantCulture, $"- smallest aligned p among the nulls: 10^{F(smallest.AlignedLog10P, "0.0")} ({Name(smallest)}, {smallest.AlignedMatched}/{smallest.Bits} bits); smallest plain p: 10^{F(smallestPlain.PlainLog10P, "0.0")} ({Name(smallestPlain)})");
        md.AppendLine(CultureInfo.InvariantCulture, $"- mean BER of the nulls: plain {F(nulls.Average(r => r.PlainBer), "0.000")}, aligned {F(nulls.Average(r => r.AlignedBer), "0.000")}; host alone {F(nulls.Where(r => r.Signatures == "host").Average(r => r.AlignedBer), "0.000")}, with the producer {F(nulls.Where(r => r.Signatures != "host").Average(r => r.AlignedBer), "0.000")}");
        md.AppendLine(confident.Count == 0
            ? "- confident null alignments: none, so no null model's aligned bits were counted"
            : string.Create(CultureInfo.InvariantCulture, $"- confident null alignments: {confident.Count}; smallest aligned p among them: 10^{F(confident.Min(r => r.AlignedLog10P), "0.0")}"));
        md.AppendLine(flagged.Count == 0
            ? "- null models flagged PRESENT: none"
            : $"- null models flagged PRESENT: {string.Join(", ", flagged.Select(Name))}");
    }

    // Attacked copies (Removal): a table per network.
    private static void RemovalSection(StringBuilder md, List<RemovalRow> rows)
    {
        static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
        foreach (var network in rows.Select(r => r.Network).Distinct())
        {
            md.AppendLine();
            md.AppendLine(CultureInfo.InvariantCulture, $"**{network}**");
            md.AppendLine();
            md.AppendLine("| attack | what it did | host shape | test error | plain BER | plain log10 p | plain verdict | log10 P[this few bits match] | aligned BER | aligned log10 p (binomial, not valid) | confidence | alignment undid | verdict with --reference |");
            md.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
            foreach (var r in rows.Where(r => r.Network == network))
            {
                var plain = r.PlainBer is { } ber
                    ? $"{F(ber, "0.000")} | {F(r.PlainLog10P!.Value, "0.0")} | {(r.PlainPresent ? "present" : "absent")} | {(r.InvertedLog10P is { } inverted ? F(inverted, "0.0") : "–")}"
                    : "– | – | exit 2: the key does not apply | –";
                md.AppendLine(CultureInfo.InvariantCulture, $"| {r.Attack} | {r.Detail} | {r.HostShape} | {F(100 * r.TestError, "0.00")}% | {plain} | {F(r.AlignedBer, "0.000")} | {F(r.AlignedLog10P, "0.0")} | {F(r.Confidence, "0.000")}{(r.Confident ? string.Empty : " (not confident)")} | {r.Undone} | {(r.Present ? "PRESENT" : "absent")} |");
            }
        }
    }

    private static void WriteText(string path, string text) =>
        AtomicFile.Write(path, s => s.Write(Encoding.UTF8.GetBytes(text)));

    public static Row RowOf(string setting, RunResult run, double? paper) =>
        new(setting, run.Spec.Name, run.TestError, paper, run.EmbeddingLoss, run.BitErrorRate, run.PValue, run.WallSeconds / 60);

    /// <summary>A row measured on a changed copy of <paramref name="run"/> (attacked, pruned, overwritten) rather than read from its run.json.</summary>
    public static Row RowOf(string setting, string run, double testError, double? paper, (double EmbeddingLoss, SlotVerification Slot) m, double minutes) =>
        new(setting, run, testError, paper, m.EmbeddingLoss, m.Slot.BitErrorRate, m.Slot.PValue.ToString(), minutes);

    public static (string, double[], double[], double[]) Curve(string label, RunResult run) =>
        (label, [.. run.History.Select(h => (double)h.Epoch)], [.. run.History.Select(h => h.TestError)], [.. run.History.Select(h => h.TrainLoss)]);

    /// <summary>" Resident memory of run X from epoch 2 to N: min–max MiB (±p% of the mean)." or "" when not recorded.</summary>
    public static string Memory(RunResult run)
    {
        var rss = run.History.Skip(1).Select(h => h.ResidentMegabytes).ToArray();
        if (rss.Length == 0 || rss.Any(r => !(r > 0)))
        {
            return string.Empty;
        }

        var mean = rss.Average();
        var spread = Math.Max(rss.Max() - mean, mean - rss.Min()) / mean;
        return string.Create(CultureInfo.InvariantCulture, $" Resident memory of {run.Spec.Name} from epoch 2 to {run.History.Count}: {rss.Min():F0}–{rss.Max():F0} MiB (±{100 * spread:F1}% of the mean).");
    }

    public static string Mean(IEnumerable<double> values)
    {
        var v = values.ToArray();
        var mean = v.Average();
        var sd = v.Length > 1 ? Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1)) : double.NaN;
        return string.Create(CultureInfo.InvariantCulture, $"{100 * mean:F2}% ± {100 * sd:F2}% (n = {v.Length})");
    }
}
