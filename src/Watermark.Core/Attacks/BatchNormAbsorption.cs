using System;
using System.Collections.Generic;

namespace Watermark.Attacks;

/// <summary>
/// How a batch norm right after a layer absorbs a positive scale or a sign flip of that layer's output
/// channels (NeuronScale and SignFlip of Pan et al., KDD 2023), so the network's function stays. Channel o
/// of an evaluation-mode batch norm computes γ (x − μ)/√(σ² + ε) + β from its input x.
/// <list type="bullet">
/// <item><b>Scale</b>: the layer's filter o (weight and bias) times a &gt; 0 gives x′ = a·x. With μ′ = a·μ and
/// σ′² = a²(σ² + ε) − ε the denominator becomes a·√(σ² + ε), so the output is the same, ε included (the
/// plain σ′² = a²σ² would be off by ε). γ and β stay; in training mode the batch's own mean and variance
/// scale with x the same way.</item>
/// <item><b>Sign flip</b>: the filter negated gives x′ = −x. With μ′ = −μ and γ′ = −γ (σ² and β kept):
/// −γ(−x + μ)/√(σ² + ε) = γ(x − μ)/√(σ² + ε), exactly, in either mode.</item>
/// </list>
/// The layer's own weights are changed with <see cref="ChannelScaling.Apply"/> and <see cref="SignFlip.Apply"/>
/// on axis 0. Both move the filter mean of Uchida et al. when the layer is the host: w = mean over o of
/// a_o·s_o·W[o] is no longer the embedded one.
/// </summary>
public static class BatchNormAbsorption
{
    /// <summary>The ε of PyTorch's and TorchSharp's batch norms unless set otherwise (it is not saved with the weights).</summary>
    public const double DefaultEpsilon = 1e-5;

    /// <summary>
    /// The factors raised where needed so that every new variance a²(σ² + ε) − ε is non-negative: a channel
    /// whose running variance σ² is below ε cannot shrink below √(ε / (σ² + ε)). Scale the layer with the
    /// returned factors, then call <see cref="AbsorbScale"/> with them.
    /// </summary>
    public static float[] Feasible(IReadOnlyList<float> factors, ReadOnlySpan<float> runningVar, double epsilon = DefaultEpsilon)
    {
        ArgumentNullException.ThrowIfNull(factors);
        CheckEpsilon(epsilon);
        CheckLength(runningVar.Length, factors.Count, nameof(runningVar));
        var result = new float[factors.Count];
        for (var o = 0; o < result.Length; o++)
        {
            var a = factors[o];
            CheckFactor(a, nameof(factors));
            if (!(runningVar[o] + epsilon > 0) || !float.IsFinite(runningVar[o]))
            {
                throw new ArgumentException($"Channel {o}'s running variance {runningVar[o]} is not a batch norm's variance (σ² + ε must be positive).", nameof(runningVar));
            }

            while (NewVariance(a, runningVar[o], epsilon) < 0)
            {
                // The bound √(ε / (σ² + ε)), reached in float steps so the check below holds exactly.
                a = Math.Max(MathF.BitIncrement(a), (float)Math.Sqrt(epsilon / ((double)runningVar[o] + epsilon)));
            }

            result[o] = a;
        }

        return result;
    }

    /// <summary>
    /// Absorbs positive factors a_o of the layer's output channels into the batch norm's running statistics,
    /// in place: μ′ = a·μ, σ′² = a²(σ² + ε) − ε. The factors must be positive, finite and
    /// <see cref="Feasible"/> (a new variance below zero is refused, not clamped: it would change the function).
    /// </summary>
    public static void AbsorbScale(Span<float> runningMean, Span<float> runningVar, IReadOnlyList<float> factors, double epsilon = DefaultEpsilon)
    {
        ArgumentNullException.ThrowIfNull(factors);
        CheckEpsilon(epsilon);
        CheckLength(runningMean.Length, factors.Count, nameof(runningMean));
        CheckLength(runningVar.Length, factors.Count, nameof(runningVar));
        var variances = new float[factors.Count];
        for (var o = 0; o < factors.Count; o++)
        {
            var a = factors[o];
            CheckFactor(a, nameof(factors));
            var variance = NewVariance(a, runningVar[o], epsilon);
            if (variance < 0)
            {
                throw new ArgumentException($"Channel {o}'s running variance {runningVar[o]} cannot shrink by {a}: its new variance would be negative. Raise the factors with BatchNormAbsorption.Feasible first.", nameof(factors));
            }

            variances[o] = (float)variance;
        }

        for (var o = 0; o < factors.Count; o++)
        {
            runningMean[o] *= factors[o];
            runningVar[o] = variances[o];
        }
    }

    /// <summary>Absorbs sign flips of the layer's output channels into the batch norm, in place: γ′ = −γ and μ′ = −μ where flipped.</summary>
    public static void AbsorbFlip(Span<float> weight, Span<float> runningMean, IReadOnlyList<bool> flipped)
    {
        ArgumentNullException.ThrowIfNull(flipped);
        CheckLength(weight.Length, flipped.Count, nameof(weight));
        CheckLength(runningMean.Length, flipped.Count, nameof(runningMean));
        for (var o = 0; o < flipped.Count; o++)
        {
            if (flipped[o])
            {
                weight[o] = -weight[o];
                runningMean[o] = -runningMean[o];
            }
        }
    }

    private static double NewVariance(float factor, float variance, double epsilon) => ((double)factor * factor * ((double)variance + epsilon)) - epsilon;

    private static void CheckFactor(float factor, string parameter)
    {
        if (!(factor > 0) || !float.IsFinite(factor))
        {
            throw new ArgumentException($"A batch norm absorbs only positive, finite scales of its input; {factor} was given (a sign is a flip: AbsorbFlip).", parameter);
        }
    }

    private static void CheckEpsilon(double epsilon)
    {
        if (!(epsilon >= 0 && double.IsFinite(epsilon)))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "The batch norm's ε is a small non-negative number (1e-5 unless the model set another).");
        }
    }

    private static void CheckLength(int length, int channels, string parameter)
    {
        if (length != channels)
        {
            throw new ArgumentException($"The batch norm's statistics hold {length} channels; {channels} were given.", parameter);
        }
    }
}
