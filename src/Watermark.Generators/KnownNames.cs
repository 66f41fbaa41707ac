using Microsoft.CodeAnalysis;

namespace Watermark;

/// <summary>
/// Names the generator and the analyzers match by string: neither may load the runtime or TorchSharp.
/// Shared by both projects as a linked file.
/// </summary>
internal static class KnownNames
{
    public const string WatermarkAttribute = "Watermark.WatermarkAttribute";
    public const string Bits = "Bits";
    public const string Key = "Key";
    public const string Strength = "Strength";
    public const double DefaultStrength = 0.01;
    public const int DefaultKeyKind = 2;

    /// <summary>Conv1d, Conv2d, Conv3d or Linear from TorchSharp.Modules, or null.</summary>
    public static string? LayerKind(ITypeSymbol? type)
    {
        if (type is not INamedTypeSymbol { ContainingType: null } named || named.ContainingNamespace?.ToDisplayString() != "TorchSharp.Modules")
        {
            return null;
        }

        return named.Name is "Conv1d" or "Conv2d" or "Conv3d" or "Linear" ? named.Name : null;
    }

    /// <summary>Whether the type derives from TorchSharp's <c>torch.nn.Module</c> (any arity).</summary>
    public static bool IsTorchModule(ITypeSymbol? type)
    {
        for (var current = type?.BaseType; current is not null; current = current.BaseType)
        {
            if (current.Name == "Module"
                && current.ContainingType is { Name: "nn", ContainingType: { Name: "torch", ContainingType: null } torch }
                && torch.ContainingNamespace?.ToDisplayString() == "TorchSharp")
            {
                return true;
            }
        }

        return false;
    }
}
