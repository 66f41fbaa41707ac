using System;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Watermark.Training;

/// <summary>
/// Embedding without training (Uchida et al. Eq. 6): only the host weight W moves, minimising
/// λ·E_R(w) + ‖W − W₀‖² from the trained W₀. The paper shows why this is not enough (Table 7):
/// small λ leaves bit errors, large λ moves W far enough to hurt the task.
/// </summary>
public static class DirectEmbedding
{
    /// <summary>Runs <paramref name="steps"/> Adam steps on <paramref name="host"/>; returns the final λ·E_R + ‖W − W₀‖².</summary>
    public static double Embed(Parameter host, WatermarkKey key, double lambda, int steps = 2000, double learningRate = 1e-3)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentOutOfRangeException.ThrowIfNegative(lambda);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(steps);
        using var start = host.detach().clone();
        using var optimizer = optim.Adam([host], learningRate);
        var objective = double.NaN;
        for (var step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = (EmbeddingLoss.Compute(host, key) * lambda) + (host - start).pow(2).sum();
            loss.backward();
            optimizer.step();
            if (step == steps - 1)
            {
                objective = loss.ToDouble();
            }
        }

        return objective;
    }
}
