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
/// (<see cref="ChannelPermutation"/>, <see cref="ChannelScaling"/>), the same the <c>watermark attack</c>
/// command applies to files.
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

    private static Tensor Find(IDictionary<string, Tensor> state, string name) =>
        state.TryGetValue(name, out var t) ? t : throw new WatermarkException($"The model has no tensor '{name}'; its state_dict has {string.Join(", ", state.Keys.Take(10))}{(state.Count > 10 ? ", …" : string.Empty)}.");
}
