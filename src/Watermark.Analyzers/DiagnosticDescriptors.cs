using Microsoft.CodeAnalysis;

namespace Watermark.Analyzers;

/// <summary>Every WMK diagnostic: id, title, message, category, severity and help link in one place.</summary>
internal static class DiagnosticDescriptors
{
    /// <summary>Where each diagnostic is explained; an id's anchor is its lower-case id (<c>#wmk001</c>).</summary>
    public const string HelpLinkBase = "https://github.com/watermark-torchsharp/watermark/blob/main/docs/diagnostics.md";

    private const string Category = "Watermark";

    /// <summary>Same words as the runtime's <c>Capacity.Describe</c>: {0} = T, {1} = slot, {2} = M.</summary>
    public static readonly DiagnosticDescriptor OverCapacity = new(
        "WMK001",
        "The watermark does not fit the layer",
        "Watermark of {0} bits does not fit '{1}': its filter mean has M = {2} entries and T must be below M; use fewer bits or a layer with more input channels or a larger kernel",
        Category,
        DiagnosticSeverity.Warning,
        isEnabledByDefault: true,
        description: "With a single-layer projection X ∈ R^{T×M}, T ≥ M makes the embedding over-determined (Uchida et al. §4.2).",
        helpLinkUri: HelpLinkBase + "#wmk001");

    public static readonly DiagnosticDescriptor CapacityUnknown = new(
        "WMK002",
        "The layer's filter-mean length is not known at compile time",
        "M of '{0}' is not known at compile time ({1}); T < M is checked when the slot is activated",
        Category,
        DiagnosticSeverity.Info,
        isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + "#wmk002");

    public static readonly DiagnosticDescriptor NotPartial = new(
        "WMK003",
        "A type with [Watermark] members must be partial",
        "'{0}' {1} [Watermark] members and must be partial so that the generator can implement IWatermarkable; add the 'partial' modifier",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + "#wmk003");

    public static readonly DiagnosticDescriptor UnsupportedMember = new(
        "WMK004",
        "[Watermark] is only for Conv1d, Conv2d, Conv3d and Linear layers",
        "[Watermark] on '{0}' is not supported: {1}; mark an instance field or property of type Conv1d, Conv2d, Conv3d or Linear",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + "#wmk004");

    public static readonly DiagnosticDescriptor BitsNotPositive = new(
        "WMK005",
        "Bits must be positive",
        "[Watermark] on '{0}' has Bits = {1}; set Bits to the number of bits T to embed, such as Bits = 256",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + "#wmk005");

    public static readonly DiagnosticDescriptor StrengthNotPositive = new(
        "WMK006",
        "Strength must be positive",
        "[Watermark] on '{0}' has Strength = {1}; λ must be a positive finite number (the paper uses 0.01)",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + "#wmk006");

    public static readonly DiagnosticDescriptor MarkedTwice = new(
        "WMK007",
        "The same layer is marked twice",
        "'{0}' is the same layer as '{1}', which is already marked; remove one of the two [Watermark] attributes",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + "#wmk007");

    public static readonly DiagnosticDescriptor NotAModule = new(
        "WMK008",
        "[Watermark] members belong in a TorchSharp module",
        "'{0}' has [Watermark] members but does not derive from torch.nn.Module; move the layers into a module",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + "#wmk008");

    /// <summary>{0} = type, {1} = the clashing name, {2} = what the generator does instead.</summary>
    public static readonly DiagnosticDescriptor NameClash = new(
        "WMK009",
        "A member has a name the [Watermark] generator uses",
        "'{0}' already has a member named '{1}', a name the [Watermark] generator uses: {2}; rename yours to get the generated one",
        Category,
        DiagnosticSeverity.Warning,
        isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + "#wmk009");

    public static readonly DiagnosticDescriptor FileLocal = new(
        "WMK010",
        "A type with [Watermark] members cannot be file-local",
        "'{0}' is file-local, and the generator cannot add IWatermarkable to it from another file; make it internal instead of 'file'",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + "#wmk010");

    public static readonly DiagnosticDescriptor SharedDeclaration = new(
        "WMK011",
        "One [Watermark] per field declaration",
        "[Watermark] on a declaration of {0} fields ({1}) would mark every one; declare each layer in its own field and mark the one that carries the watermark",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpLinkBase + "#wmk011");

    /// <summary>Reported at the construction: {0} = T, {1} = slot, {2} = M as constructed there.</summary>
    public static readonly DiagnosticDescriptor OverCapacityAsConstructed = new(
        "WMK012",
        "The watermark does not fit the layer as constructed here",
        "Watermark of {0} bits does not fit '{1}' as constructed here: its filter mean has M = {2} entries and T must be below M; use fewer bits, larger constructor arguments, or a module built with more input channels",
        Category,
        DiagnosticSeverity.Warning,
        isEnabledByDefault: true,
        description: "M depends on the constructor's arguments: this construction's constants make it too small for the declared T.",
        helpLinkUri: HelpLinkBase + "#wmk012",
        customTags: WellKnownDiagnosticTags.CompilationEnd);
}
