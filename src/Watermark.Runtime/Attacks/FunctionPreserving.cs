using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace Watermark.Attacks;

/// <summary>
/// Transforms a thief can apply for free: they change the weights but not what the network computes.
/// They act on the channels between a producer and the layers that read them, and you name every tensor
/// that carries those channels (state_dict name and the axis that indexes the channels): in a WRN's
/// pre-activation block <c>conv1 → bn2 → relu → conv2</c>, conv1's weight and bias and bn2's weight,
/// bias and running statistics on axis 0, and conv2's weight on axis 1. The math is Core's
/// (<see cref="ChannelPermutation"/>, <see cref="ChannelScaling"/>, <see cref="SignFlip"/>,
/// <see cref="BatchNormAbsorption"/>), the same the <c>watermark attack</c> command applies to files. Transforms
/// that change a layer's width (NeuronClique, NeuronSplit: <see cref="DummyNeurons"/>) need a module of the new
/// width, so they are applied to saved files (<c>watermark attack clique|split</c>) and the result loaded into it.
/// </summary>
public static class FunctionPreserving
{
    /// <summary>
    /// Reorders channels consistently: each named tensor gets index i of its axis from index
    /// <paramref name="permutation"/>[i].
    /// </summary>
    public static void PermuteChannels(nn.Module model, IReadOnlyList<(string Name, int Axis)> tensors, IReadOnlyList<int> permutation)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(permutation);
        var state = model.state_dict();
        foreach (var (name, axis) in tensors)
        {
            var t = Find(state, name);
            TensorAttacks.Rewrite(t, values => ChannelPermutation.Apply(values, t.shape, axis, permutation));
        }
    }

    /// <summary>
    /// Multiplies channel d of each tensor in <paramref name="multiply"/> by α_d and divides channel d of
    /// each tensor in <paramref name="divide"/> by α_d. With the host's input channels (axis 1) multiplied
    /// and what feeds the ReLU in front of them divided (a batch norm's weight and bias, or the previous
    /// conv's weight and bias, axis 0), the function stays: ReLU(x/α) = ReLU(x)/α for α &gt; 0.
    /// </summary>
    public static void ScaleChannels(nn.Module model, IReadOnlyList<float> factors, IReadOnlyList<(string Name, int Axis)> multiply, IReadOnlyList<(string Name, int Axis)> divide)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(factors);
        ArgumentNullException.ThrowIfNull(multiply);
        ArgumentNullException.ThrowIfNull(divide);
        if (factors.Any(f => !(f > 0) || !float.IsFinite(f)))
        {
            throw new ArgumentException("Rescaling keeps the function only for positive, finite factors (ReLU(x/α) = ReLU(x)/α needs α > 0).", nameof(factors));
        }

        var state = model.state_dict();
        var all = multiply.Select(m => (m.Name, m.Axis, Divide: false)).Concat(divide.Select(d => (d.Name, d.Axis, Divide: true))).ToList();
        var tensors = all.Select(a => Find(state, a.Name)).ToList(); // every name checked before anything changes
        for (var i = 0; i < all.Count; i++)
        {
            var (_, axis, isDivided) = all[i];
            var t = tensors[i];
            TensorAttacks.Rewrite(t, values =>
            {
                ChannelScaling.Apply(values, t.shape, axis, factors, isDivided);
                return values;
            });
        }
    }

    /// <summary>
    /// Multiplies output filter o of a layer (every tensor in <paramref name="layer"/> on axis 0: its weight and
    /// bias) by <paramref name="factors"/>[o] &gt; 0 and lets the batch norm right after it absorb the factors
    /// through its running statistics (<paramref name="norm"/> is its state_dict prefix, e.g. <c>bn2</c>):
    /// μ′ = a·μ, σ′² = a²(σ² + ε) − ε, so evaluation is unchanged (and training mode, whose batch statistics scale
    /// with the input, up to ε). Factors too small for a channel of tiny variance are raised
    /// (<see cref="BatchNormAbsorption.Feasible"/>); the factors applied are returned.
    /// </summary>
    public static float[] ScaleOutputs(nn.Module model, IReadOnlyList<float> factors, IReadOnlyList<string> layer, string norm, double epsilon = BatchNormAbsorption.DefaultEpsilon)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(factors);
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(norm);
        var state = model.state_dict();
        var tensors = layer.Select(name => Find(state, name)).ToList();
        var (mean, variance) = (Find(state, $"{norm}.running_mean"), Find(state, $"{norm}.running_var"));
        var applied = BatchNormAbsorption.Feasible(factors, Read(variance), epsilon);
        var (newMean, newVariance) = (Read(mean), Read(variance));
        BatchNormAbsorption.AbsorbScale(newMean, newVariance, applied, epsilon);
        foreach (var t in tensors)
        {
            TensorAttacks.Rewrite(t, values =>
            {
                ChannelScaling.Apply(values, t.shape, 0, applied);
                return values;
            });
        }

        TensorAttacks.Rewrite(mean, _ => newMean);
        TensorAttacks.Rewrite(variance, _ => newVariance);
        return applied;
    }

    /// <summary>
    /// Negates output filter o of a layer (every tensor in <paramref name="layer"/> on axis 0) where
    /// <paramref name="flipped"/>[o], and lets the batch norm right after it (<paramref name="norm"/>, its state_dict
    /// prefix) absorb the signs: γ′ = −γ and μ′ = −μ, exact in evaluation and in training mode.
    /// </summary>
    public static void FlipOutputs(nn.Module model, IReadOnlyList<bool> flipped, IReadOnlyList<string> layer, string norm)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(flipped);
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(norm);
        var state = model.state_dict();
        var tensors = layer.Select(name => Find(state, name)).ToList();
        var (gamma, mean) = (Find(state, $"{norm}.weight"), Find(state, $"{norm}.running_mean"));
        var (newGamma, newMean) = (Read(gamma), Read(mean));
        BatchNormAbsorption.AbsorbFlip(newGamma, newMean, flipped);
        foreach (var t in tensors)
        {
            TensorAttacks.Rewrite(t, values =>
            {
                SignFlip.Apply(values, t.shape, 0, flipped);
                return values;
            });
        }

        TensorAttacks.Rewrite(gamma, _ => newGamma);
        TensorAttacks.Rewrite(mean, _ => newMean);
    }

    private static float[] Read(Tensor t)
    {
        using var scope = NewDisposeScope();
        return t.detach().to(ScalarType.Float32, CPU).contiguous().data<float>().ToArray();
    }

    private static Tensor Find(IDictionary<string, Tensor> state, string name) =>
        state.TryGetValue(name, out var t) ? t : throw new WatermarkException($"The model has no tensor '{name}'; its state_dict has {string.Join(", ", state.Keys.Take(10))}{(state.Count > 10 ? ", …" : string.Empty)}.");
}
