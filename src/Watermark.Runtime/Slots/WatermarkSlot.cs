using System.Collections.Immutable;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Watermark;

/// <summary>
/// A marked layer found in a model: where it sits (its state_dict parameter name), its weight's
/// shape, M, and the T, key kind and λ its <see cref="WatermarkAttribute"/> declares.
/// </summary>
public sealed class WatermarkSlot
{
    internal WatermarkSlot(WatermarkDeclaration declaration, nn.Module layer, string parameter, Parameter weight)
    {
        DeclaringType = declaration.DeclaringType.Name;
        Member = declaration.Member;
        Parameter = parameter;
        Layer = layer;
        Weight = weight;
        Shape = [.. weight.shape];
        FilterMeanLength = Capacity.FilterMeanLength(Shape);
        Bits = declaration.Bits;
        Kind = declaration.Kind;
        Strength = declaration.Strength;
    }

    /// <summary>The module type that declares the slot, e.g. <c>Block</c> (a base type's name for an inherited mark).</summary>
    public string DeclaringType { get; }

    // The layer whose weight this is: a cached slot is stale once the layer holds another weight (after .to()).
    internal nn.Module Layer { get; }

    /// <summary>The marked field or property, e.g. <c>conv2</c>.</summary>
    public string Member { get; }

    /// <summary>The state_dict name of the host weight, e.g. <c>g2.block0.conv2.weight</c>: the key file's slot name.</summary>
    public string Parameter { get; }

    /// <summary>The host weight W.</summary>
    public Parameter Weight { get; }

    /// <summary>The weight's shape, e.g. [L, D, S, S] for a Conv2d.</summary>
    public ImmutableArray<long> Shape { get; }

    /// <summary>M: the length of the filter-mean vector w.</summary>
    public int FilterMeanLength { get; }

    /// <summary>T, as declared.</summary>
    public int Bits { get; }

    /// <summary>The key kind, as declared.</summary>
    public KeyKind Kind { get; }

    /// <summary>λ, as declared.</summary>
    public double Strength { get; }

    /// <summary>Whether the declared T fits (T &lt; M).</summary>
    public bool Fits => Capacity.Fits(Bits, FilterMeanLength);

    /// <summary>The filter-mean vector w of the host weight, differentiable.</summary>
    public Tensor FilterMean() => Weight.FilterMean();

    /// <summary>
    /// Makes a new key for this slot with a fresh CSPRNG seed and the declared T, key kind and λ.
    /// Activating a slot applies the capacity rule T &lt; M with the analyzer's WMK001 wording, unless
    /// <paramref name="allowOverCapacity"/> is set (only for experiments on the limit).
    /// </summary>
    public WatermarkKey CreateKey(Message? message = null, Whitening? whitening = null, bool allowOverCapacity = false, BchCode? code = null) =>
        WatermarkKey.Create(Parameter, Shape, Bits, Kind, message, Strength, whitening, allowOverCapacity, code);

    /// <summary>The slot in one line, without any secret.</summary>
    public override string ToString() =>
        $"{Parameter} ({DeclaringType}.{Member}) {Capacity.ShapeText(Shape)}: T = {Bits}, M = {FilterMeanLength}, {Keyring.KindName(Kind)} key, λ = {Strength}";

    internal static Parameter? WeightOf(nn.Module layer) => layer switch
    {
        Conv1d conv => conv.weight,
        Conv2d conv => conv.weight,
        Conv3d conv => conv.weight,
        Linear linear => linear.weight,
        _ => null,
    };
}
