using System;

namespace Watermark;

/// <summary>
/// Marks a Conv1d, Conv2d, Conv3d or Linear field (or property) of a <c>partial</c> TorchSharp module as a
/// watermark slot. The source generator makes the module implement <see cref="IWatermarkable"/>;
/// the analyzer checks T &lt; M at compile time where the layer's constructor arguments allow.
/// </summary>
[AttributeUsage(AttributeTargets.Field | AttributeTargets.Property, AllowMultiple = false, Inherited = false)]
public sealed class WatermarkAttribute : Attribute
{
    /// <summary>T: how many bits the slot carries; must be positive and below the layer's filter-mean length M.</summary>
    public int Bits { get; set; }

    /// <summary>How the secret projection X is built; the paper's choice, <see cref="KeyKind.Random"/>, by default.</summary>
    public KeyKind Key { get; set; } = KeyKind.Random;

    /// <summary>λ: the weight of the slot's embedding loss; 0.01 as in the paper.</summary>
    public double Strength { get; set; } = WatermarkKey.DefaultStrength;
}
