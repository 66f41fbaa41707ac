using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using TorchSharp.Modules;
using Watermark.Attacks;

namespace WideResNet.Experiments;

/// <summary>Beyond the paper: quantization, Gaussian noise, and the function-preserving permutation and rescaling.</summary>
internal sealed class Transforms() : Experiment("transforms", "quantization, noise, channel permutation and rescaling of the host layer")
{
    public override ExperimentResult Run(Runner runner, string command)
    {
        var s = runner.Settings.Seed;
        var marked = runner.Get(Runs.Marked(s));
        var key = runner.KeyFor(marked.Spec);
        var test = SampleTraining.TestBatches(runner.CifarTest);
        var rows = new List<Row>();
        void Try(string setting, Action<Model.WideResNet> attack)
        {
            var (row, m, error) = Robustness.Try(runner, marked.Spec.Name, key, test, setting, attack);
            rows.Add(row);
            Console.WriteLine($"{setting}: test error {100 * error:F2}%, BER {m.Slot.BitErrorRate:F3}, p = {m.Slot.PValue}");
        }

        Parameter Host(Model.WideResNet model) => Runner.Host(model, key.Parameter);
        Try("none", _ => { });
        int[] levels = [8, 6, 4, 3, 2];
        var perTensor = new List<double>();
        var perChannel = new List<double>();
        foreach (var bits in levels)
        {
            Try($"quantize conv2 to {bits} bits, per tensor", m => Host(m).Quantize(bits, perChannel: false));
            perTensor.Add(rows[^1].BitErrorRate);
            Try($"quantize conv2 to {bits} bits, per channel", m => Host(m).Quantize(bits, perChannel: true));
            perChannel.Add(rows[^1].BitErrorRate);
        }

        double[] sigmas = [0.01, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0];
        var noisy = new List<double>();
        foreach (var sigma in sigmas)
        {
            Try($"Gaussian noise σ = {sigma} × std(w)", m => Host(m).AddNoise(sigma, seed: 1));
            noisy.Add(rows[^1].BitErrorRate);
        }

        var folder = runner.Settings.Out;
        double[] x = [.. levels.Select(b => (double)b)];
        Figures.Lines(Path.Combine(folder, "transforms-quantization.png"), "BER after quantizing conv2", "bits per weight", "bit error rate", [("per tensor", x, [.. perTensor]), ("per channel", x, [.. perChannel])]);
        Figures.Lines(Path.Combine(folder, "transforms-noise.png"), "BER after Gaussian noise on conv2", "σ / std(w)", "bit error rate", [("noise", sigmas, [.. noisy])]);

        int width;
        using (var probe = runner.Load(marked.Spec.Name))
        {
            width = (int)Host(probe).shape[0];
        }

        (string, int)[] channels = [("g2.block0.conv1.weight", 0), ("g2.block0.bn2.weight", 0), ("g2.block0.bn2.bias", 0), ("g2.block0.bn2.running_mean", 0), ("g2.block0.bn2.running_var", 0), ("g2.block0.conv2.weight", 1)];
        // Not function-preserving on its own in a residual block (the sum with the shortcut fixes the
        // channel order); it shows that the filter mean ignores the order of the host's filters.
        Try("permute conv2's filters alone (breaks the residual sum: mark survives, network does not)", m => FunctionPreserving.PermuteChannels(m, [("g2.block0.conv2.weight", 0)], ChannelPermutation.Random(width, 1)));
        Try("permute conv2's input channels (with conv1, bn2)", m => FunctionPreserving.PermuteChannels(m, channels, ChannelPermutation.Random(width, 1)));
        // The factors of `watermark attack rescale --range R --seed 1`.
        var mild = ChannelScaling.Random(width, 2, seed: 1);
        var wild = ChannelScaling.Random(width, 20, seed: 1);
        Try("rescale conv2's input channels by factors in [1/2, 2] (through bn2)", m => Robustness.RescaleConv2(m, mild));
        Try("rescale conv2's input channels by factors in [1/20, 20] (through bn2)", m => Robustness.RescaleConv2(m, wild));
        var notes = new List<string>
        {
            "Permuting conv2's input channels together with conv1's filters and bn2, and rescaling them through bn2, change the weights but not the network's function (the test error column shows it). The filter mean is invariant to the order of the host's own filters only, so a thief who reorders the host's input channels removes the mark for free, and one who rescales them wildly weakens it. This is a limit of Uchida et al.'s method, recorded here rather than hidden.",
        };
        return Result(runner, "Beyond the paper: quantization, noise, permutation and rescaling of conv2", command, rows, [marked], ["transforms-quantization.png", "transforms-noise.png"], notes, marked.Network);
    }
}
