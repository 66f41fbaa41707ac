using System;
using System.Collections.Generic;
using System.Diagnostics;
using Watermark;
using Watermark.Training;

namespace WideResNet.Experiments;

/// <summary>Table 7: embedding without training (Eq. 6) into the trained unmarked network, for λ = 0, 1, 10, 100.</summary>
internal sealed class Table7() : Experiment("table7", "embedding without training (Eq. 6), lambda = 0, 1, 10, 100")
{
    public override ExperimentResult Run(Runner runner, string command)
    {
        var s = runner.Settings.Seed;
        var first = runner.Get(Runs.None(s));
        var key = runner.KeyFor(Runs.Marked(s, KeyKind.Random));
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
        return Result(runner, "Table 7: embedding without training (Eq. 6)", command, rows, [first], [], notes);
    }
}
