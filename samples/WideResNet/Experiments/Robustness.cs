using System;
using System.Diagnostics;
using System.Linq;
using TorchSharp;
using Watermark;
using Watermark.Attacks;
using Watermark.Training;
using WideResNet.Data;

namespace WideResNet.Experiments;

/// <summary>
/// What the robustness experiments (the paper's §4.3 and §5.1: <see cref="Pruning"/>, <see cref="Table8"/>,
/// <see cref="Overwrite"/>; beyond it: <see cref="Transforms"/>, <see cref="Payload"/>) share: attacking a
/// copy of a finished run and measuring it, the function-preserving rescaling of conv2, and how far a
/// later training moved the host's filter mean.
/// </summary>
internal static class Robustness
{
    /// <summary>
    /// Rescales g2.block0.conv2's input channels by <paramref name="factors"/> and divides bn2's weight
    /// and bias (in front of the ReLU) by them: the network's function stays.
    /// </summary>
    public static void RescaleConv2(torch.nn.Module model, float[] factors) =>
        FunctionPreserving.ScaleChannels(model, factors, multiply: [("g2.block0.conv2.weight", 1)], divide: [("g2.block0.bn2.weight", 0), ("g2.block0.bn2.bias", 0)]);

    /// <summary>
    /// Loads the finished run <paramref name="run"/>, applies <paramref name="attack"/> and measures
    /// <paramref name="key"/> on it, and its test error on <paramref name="test"/> (NaN without it).
    /// </summary>
    /// <returns>The table's row (the minutes are the attack's and the measurements'), the measurement, the test error.</returns>
    public static (Row Row, (double EmbeddingLoss, SlotVerification Slot) Measured, double TestError) Try(Runner runner, string run, WatermarkKey key, BatchLoader? test, string setting, Action<Model.WideResNet> attack)
    {
        var clock = Stopwatch.StartNew();
        using var model = runner.Load(run);
        attack(model);
        var m = Runner.Measure(model, key);
        var error = test is null ? double.NaN : Trainer.Evaluate(model, test);
        return (Report.RowOf(setting, run, error, null, m, clock.Elapsed.TotalMinutes), m, error);
    }

    /// <summary>"moved w by r× its length (cosine c)": how far a later training moved the host's filter mean from <paramref name="w0"/> to <paramref name="w1"/>.</summary>
    public static string Drift(double[] w0, double[] w1)
    {
        var change = w1.Select((v, i) => v - w0[i]).ToArray();
        var moved = Math.Sqrt(Dot(change, change) / Dot(w0, w0));
        var cosine = Dot(w0, w1) / Math.Sqrt(Dot(w0, w0) * Dot(w1, w1));
        return $"moved the filter mean w by {moved:0.00}× its length (cosine between w before and after: {cosine:0.00})";
    }

    /// <summary>The filter mean of <paramref name="model"/>'s <paramref name="parameter"/>, in double precision.</summary>
    public static double[] FilterMean(torch.nn.Module model, string parameter)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        return Runner.Host(model, parameter).FilterMean().to(torch.float64).data<double>().ToArray();
    }

    public static double Dot(double[] a, double[] b) => a.Select((v, i) => v * b[i]).Sum();
}
