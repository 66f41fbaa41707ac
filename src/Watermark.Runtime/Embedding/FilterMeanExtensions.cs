using System;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Watermark;

/// <summary>The filter-mean vector w of a host layer as a differentiable tensor (see <see cref="Watermark.FilterMean"/>).</summary>
public static class FilterMeanExtensions
{
    /// <summary>w = flatten(mean over dim 0 of <paramref name="weight"/>): [L, D, S, S] → [D·S·S].</summary>
    public static Tensor FilterMean(this Tensor weight)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.dim() is < 2 or > 5)
        {
            throw new WatermarkException($"A host weight has 2 (Linear) to 5 (Conv3d) dimensions; this tensor has shape {Capacity.ShapeText(weight.shape)}.");
        }

        return weight.mean([0]).flatten();
    }

    /// <summary>w of a Conv1d layer's weight.</summary>
    public static Tensor FilterMean(this Conv1d layer) => Weight(layer?.weight, "Conv1d").FilterMean();

    /// <summary>w of a Conv2d layer's weight.</summary>
    public static Tensor FilterMean(this Conv2d layer) => Weight(layer?.weight, "Conv2d").FilterMean();

    /// <summary>w of a Conv3d layer's weight.</summary>
    public static Tensor FilterMean(this Conv3d layer) => Weight(layer?.weight, "Conv3d").FilterMean();

    /// <summary>w of a Linear layer's weight (mean over outputs).</summary>
    public static Tensor FilterMean(this Linear layer) => Weight(layer?.weight, "Linear").FilterMean();

    private static Parameter Weight(Parameter? weight, string kind) =>
        weight ?? throw new WatermarkException($"The {kind} layer has no weight (null layer or disposed module).");
}
