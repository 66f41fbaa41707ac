using Microsoft.CodeAnalysis;

namespace Watermark.Analyzers;

/// <summary>Every WMK diagnostic: id, title, message, category and severity in one place.</summary>
internal static class DiagnosticDescriptors
{
    private const string Category = "Watermark";

    /// <summary>Same words as the runtime's <c>Capacity.Describe</c>: {0} = T, {1} = slot, {2} = M.</summary>
    public static readonly DiagnosticDescriptor OverCapacity = new(
        "WMK001",
        "The watermark does not fit the layer",
        "Watermark of {0} bits does not fit '{1}': its filter mean has M = {2} entries and T must be below M; use fewer bits or a layer with more input channels or a larger kernel",
        Category,
        DiagnosticSeverity.Warning,
        isEnabledByDefault: true,
        description: "With a single-layer projection X ∈ R^{T×M}, T ≥ M makes the embedding over-determined (Uchida et al. §4.2).");

    public static readonly DiagnosticDescriptor CapacityUnknown = new(
        "WMK002",
        "The layer's filter-mean length is not known at compile time",
        "M of '{0}' is not known at compile time ({1}); T < M is checked when the slot is activated",
        Category,
        DiagnosticSeverity.Info,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NotPartial = new(
        "WMK003",
        "A type with [Watermark] members must be partial",
        "'{0}' {1} [Watermark] members and must be partial so that the generator can implement IWatermarkable; add the 'partial' modifier",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnsupportedMember = new(
        "WMK004",
        "[Watermark] is only for Conv1d, Conv2d, Conv3d and Linear layers",
        "[Watermark] on '{0}' is not supported: {1}; mark an instance field or property of type Conv1d, Conv2d, Conv3d or Linear",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor BitsNotPositive = new(
        "WMK005",
        "Bits must be positive",
        "[Watermark] on '{0}' has Bits = {1}; set Bits to the number of bits T to embed, such as Bits = 256",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor StrengthNotPositive = new(
        "WMK006",
        "Strength must be positive",
        "[Watermark] on '{0}' has Strength = {1}; λ must be a positive finite number (the paper uses 0.01)",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor MarkedTwice = new(
        "WMK007",
        "The same layer is marked twice",
        "'{0}' is the same layer as '{1}', which is already marked; remove one of the two [Watermark] attributes",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NotAModule = new(
        "WMK008",
        "[Watermark] members belong in a TorchSharp module",
        "'{0}' has [Watermark] members but does not derive from torch.nn.Module; move the layers into a module",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);
}
