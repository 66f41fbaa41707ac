using System;
using System.Collections.Generic;
using System.Linq;
using static TorchSharp.torch;

namespace Watermark.Attacks;

/// <summary>
/// Transforms a thief can apply for free: they change the weights but not what the network computes.
/// Both act on the channels between a producer layer and the host, through a batch norm and a ReLU
/// (the pre-activation block of a WRN: <c>conv1 → bn2 → relu → conv2</c>). The filter mean ignores
/// the order of the host's filters, but not the order or scale of its input channels.
/// </summary>
public static class FunctionPreserving
{
    /// <summary>
    /// Reorders channels consistently: each named tensor (state_dict name, with the axis that indexes the
    /// channels — 0 for the producer's weight and bias and the batch norm's parameters and running
    /// statistics, 1 for the host's weight) gets index i from index <paramref name="permutation"/>[i].
    /// </summary>
    public static void PermuteChannels(nn.Module model, IReadOnlyList<(string Name, int Axis)> tensors, IReadOnlyList<int> permutation)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(permutation);
        var state = model.state_dict();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var (name, axis) in tensors)
        {
            var t = Find(state, name);
            if (t.shape[axis] != permutation.Count)
            {
                throw new WatermarkException($"'{name}' has {t.shape[axis]} channels on axis {axis}; the permutation has {permutation.Count}.");
            }

            var index = tensor(permutation.Select(i => (long)i).ToArray(), device: t.device);
            t.copy_(t.index_select(axis, index));
        }
    }

    /// <summary>
    /// Rescales the host's input channels by positive factors α_d and undoes it before the ReLU:
    /// the batch norm's weight and bias are divided by α_d (so its output channel d, and the ReLU's,
    /// shrink by α_d) and the host weight's input channel d is multiplied by α_d.
    /// </summary>
    public static void RescaleChannels(nn.Module model, string batchNorm, string host, IReadOnlyList<float> factors)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(factors);
        if (factors.Any(f => !(f > 0) || !float.IsFinite(f)))
        {
            throw new ArgumentException("Rescaling keeps the function only for positive, finite factors (ReLU(x/α) = ReLU(x)/α needs α > 0).", nameof(factors));
        }

        var state = model.state_dict();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var hostWeight = Find(state, host);
        var alpha = tensor(factors.ToArray(), device: hostWeight.device).to(hostWeight.dtype);
        foreach (var name in new[] { batchNorm + ".weight", batchNorm + ".bias" })
        {
            Find(state, name).div_(alpha);
        }

        var shape = new long[hostWeight.dim()];
        Array.Fill(shape, 1L);
        shape[1] = factors.Count;
        hostWeight.mul_(alpha.view(shape));
    }

    private static Tensor Find(IDictionary<string, Tensor> state, string name) =>
        state.TryGetValue(name, out var t) ? t : throw new WatermarkException($"The model has no tensor '{name}'; its state_dict has {string.Join(", ", state.Keys.Take(10))}, …");
}
