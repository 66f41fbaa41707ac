using System;
using System.Collections.Generic;
using static TorchSharp.torch;

namespace Watermark;

/// <summary>
/// One <see cref="WatermarkAttribute"/> as the generated code states it: the declaring module type, the
/// member, how to read the member's layer from a module instance, T, the key kind and λ. One list per
/// module type, made once (a static field of the generated code): the layer is read per instance.
/// </summary>
public sealed class WatermarkDeclaration
{
    private readonly Func<nn.Module, nn.Module?> layerOf;

    /// <summary>A declaration; the source generator writes these.</summary>
    /// <param name="declaringType">The module type that declares the member.</param>
    /// <param name="member">The field or property name, e.g. <c>conv2</c>.</param>
    /// <param name="layerOf">Reads the member from an instance of <paramref name="declaringType"/> (null until the constructor creates it).</param>
    /// <param name="bits">T.</param>
    /// <param name="kind">How X is built.</param>
    /// <param name="strength">λ.</param>
    public WatermarkDeclaration(Type declaringType, string member, Func<nn.Module, nn.Module?> layerOf, int bits, KeyKind kind, double strength)
    {
        ArgumentNullException.ThrowIfNull(declaringType);
        ArgumentNullException.ThrowIfNull(member);
        ArgumentNullException.ThrowIfNull(layerOf);
        DeclaringType = declaringType;
        Member = member;
        this.layerOf = layerOf;
        Bits = bits;
        Kind = kind;
        Strength = strength;
    }

    /// <summary>The module type whose member carries the attribute.</summary>
    public Type DeclaringType { get; }

    /// <summary>The field or property name, e.g. <c>conv2</c>.</summary>
    public string Member { get; }

    /// <summary>T.</summary>
    public int Bits { get; }

    /// <summary>How X is built.</summary>
    public KeyKind Kind { get; }

    /// <summary>λ.</summary>
    public double Strength { get; }

    /// <summary>The marked layer of <paramref name="module"/> (an instance of <see cref="DeclaringType"/>), or null before it is created.</summary>
    public nn.Module? LayerOf(nn.Module module) => layerOf(module);

    /// <summary>
    /// The declarations of a module type: those of its nearest marked base type first (state_dict order
    /// is decided later, by where each weight is registered), then its own.
    /// </summary>
    public static IReadOnlyList<WatermarkDeclaration> Inherit(IReadOnlyList<WatermarkDeclaration>? inherited, params WatermarkDeclaration[] declared)
    {
        ArgumentNullException.ThrowIfNull(declared);
        var all = new List<WatermarkDeclaration>((inherited?.Count ?? 0) + declared.Length);
        all.AddRange(inherited ?? []);
        all.AddRange(declared);
        return all.AsReadOnly();
    }

    /// <summary>The declaration in one line.</summary>
    public override string ToString() => $"{DeclaringType.Name}.{Member}: T = {Bits}, {Keyring.KindName(Kind)} key, λ = {Strength}";
}
