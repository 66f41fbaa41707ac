using System;
using System.Linq;
using TorchSharp;
using Watermark;
using Watermark.Attacks;

namespace WideResNet.Experiments;

/// <summary>
/// What the robustness experiments (the paper's §4.3 and §5.1: <see cref="Table8"/>, <see cref="Overwrite"/>;
/// beyond it: <see cref="Transforms"/>, <see cref="Payload"/>) share: the function-preserving rescaling of
/// conv2, and how far a later training moved the host's filter mean.
/// </summary>
internal static class Robustness
{
    /// <summary>
    /// Rescales g2.block0.conv2's input channels by <paramref name="factors"/> and divides bn2's weight
    /// and bias (in front of the ReLU) by them: the network's function stays.
    /// </summary>
    public static void RescaleConv2(torch.nn.Module model, float[] factors) =>
        FunctionPreserving.ScaleChannels(model, factors, multiply: [("g2.block0.conv2.weight", 1)], divide: [("g2.block0.bn2.weight", 0), ("g2.block0.bn2.bias", 0)]);

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
