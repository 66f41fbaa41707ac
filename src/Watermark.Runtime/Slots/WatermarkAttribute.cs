using System;

namespace Watermark;

/// <summary>
/// Marks a Conv1d, Conv2d, Conv3d or Linear field (or property; <c>[field: Watermark]</c> on an
/// auto-property marks the property) of a <c>partial</c> TorchSharp module as a watermark slot. The
/// source generator makes the module implement <see cref="IWatermarkable"/>; the analyzer checks
/// T &lt; M at compile time where the layer's constructor arguments allow.
/// </summary>
[AttributeUsage(AttributeTargets.Field | AttributeTargets.Property, AllowMultiple = false, Inherited = false)]
public sealed class WatermarkAttribute : Attribute
{
    /// <summary>The key kind of a slot that does not set <see cref="Key"/>: the paper's choice. Generated code refers to it.</summary>
    public const KeyKind DefaultKey = KeyKind.Random;

    /// <summary>The λ of a slot that does not set <see cref="Strength"/>: 0.01 as in the paper. Generated code refers to it.</summary>
    public const double DefaultStrength = WatermarkKey.DefaultStrength;

    /// <summary>T: how many bits the slot carries; must be positive and below the layer's filter-mean length M.</summary>
    public int Bits { get; set; }

    /// <summary>How the secret projection X is built; <see cref="DefaultKey"/> (random) by default.</summary>
    public KeyKind Key { get; set; } = DefaultKey;

    /// <summary>λ: the weight of the slot's embedding loss; <see cref="DefaultStrength"/> (0.01) by default.</summary>
    public double Strength { get; set; } = DefaultStrength;
}
