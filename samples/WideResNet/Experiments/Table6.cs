using System.Collections.Generic;
using System.Linq;

namespace WideResNet.Experiments;

/// <summary>Table 6: capacity: 256 to 2048 bits in conv2, conv3, conv4 (train-to-embed).</summary>
internal sealed class Table6() : Experiment("table6", "capacity: 256-2048 bits in conv2/conv3/conv4")
{
    public override ExperimentResult Run(Runner runner, string command)
    {
        var s = runner.Settings.Seed;
        var paper = new Dictionary<(int, int), double>
        {
            [(2, 256)] = 7.97, [(2, 512)] = 8.47, [(2, 1024)] = 8.43, [(2, 2048)] = 8.17,
            [(3, 256)] = 7.98, [(3, 512)] = 8.22, [(3, 1024)] = 8.12, [(3, 2048)] = 8.93,
            [(4, 256)] = 7.92, [(4, 512)] = 7.84, [(4, 1024)] = 7.84, [(4, 2048)] = 7.75,
        };
        var rows = new List<Row>();
        var runs = new List<RunResult>();
        foreach (var group in new[] { 2, 3, 4 })
        {
            foreach (var bits in new[] { 256, 512, 1024, 2048 })
            {
                var run = runner.Get(Runs.Marked(s, group: group, bits: bits));
                var m = runner.KeyFor(run.Spec).FilterMeanLength;
                rows.Add(Report.RowOf($"conv{group}, {bits} bits (M = {m}{(bits >= m ? ", T ≥ M" : string.Empty)})", run, paper[(group, bits)]));
                runs.Add(run);
            }
        }

        // What the table says, in words: the marks' cost against the unmarked network, and where BER leaves 0.
        var none = runner.Get(Runs.None(s));
        var within = runs.Where(r => r.Spec.Bits < runner.KeyFor(r.Spec).FilterMeanLength).ToList();
        var over = runs.Except(within).ToList();
        string Points(RunResult r) => $"{100 * (r.TestError - none.TestError):+0.00;-0.00}";
        var notes = new List<string>
        {
            "The paper's M is 576/1152/2304 (WRN-10-4); the cpu preset's WRN-10-2 halves it, so its capacity limit T < M falls at smaller T.",
            $"Against the unmarked network ({none.Spec.Name}: {100 * none.TestError:F2}%), the marks with T < M change test error by {string.Join(" / ", within.Select(Points))} points ({string.Join(" / ", within.Select(r => $"conv{r.Spec.Group} {r.Spec.Bits}"))}); the paper's range is −0.29 to +0.89 points against its 8.04%.",
            within.All(r => r.BitErrorRate == 0)
                ? "Every mark with T < M reads back with BER 0."
                : $"Marks with T < M and BER above 0: {string.Join(", ", within.Where(r => r.BitErrorRate > 0).Select(r => $"conv{r.Spec.Group} {r.Spec.Bits} bits ({r.BitErrorRate:0.000})"))}.",
        };
        if (over.Count > 0)
        {
            notes.Add($"With T ≥ M the projection is over-determined (method.md §6): {string.Join(", ", over.Select(r => $"conv{r.Spec.Group} {r.Spec.Bits} bits: BER {r.BitErrorRate:0.000}, E_R {r.EmbeddingLoss:0.##}, test error {Points(r)} points"))}.");
        }

        runs.Add(none);

        return Result(runner, "Table 6: capacity — test error and E_R for 256 to 2,048 bits in conv2/3/4", command, rows, runs, [], notes, runs[0].Network);
    }
}
