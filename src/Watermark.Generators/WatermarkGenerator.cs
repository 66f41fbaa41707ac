using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Watermark.Generators.Models;

namespace Watermark.Generators;

/// <summary>
/// For each partial TorchSharp module with <c>[Watermark]</c> layers, emits one file that implements
/// <c>Watermark.IWatermarkable</c> by listing the marked layers and forwarding to the runtime.
/// What <see cref="MarkRules"/> rejects generates nothing; the analyzers (WMK…) explain it. The
/// generated code never fails to compile: names that clash with the user's become explicit
/// implementations, and a failure on one type leaves every other type's file in place.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class WatermarkGenerator : IIncrementalGenerator
{
    private static readonly string Version = typeof(WatermarkGenerator).Assembly.GetName().Version?.ToString() ?? "0.0.0.0";

    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var members = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                MarkRules.WatermarkAttribute,
                static (node, _) => node is VariableDeclaratorSyntax { Parent.Parent: FieldDeclarationSyntax } or PropertyDeclarationSyntax,
                static (context, token) => context.Attributes.Length == 0 ? null : Describe(context.TargetSymbol, context.Attributes[0], token))
            .Where(static member => member is not null)
            .Select(static (member, _) => member!)
            .WithTrackingName(TrackingNames.MarkedMembers);

        // [field: Watermark] on an auto-property: the attribute sits on the backing field, which has no syntax of its own.
        var backingFields = context.SyntaxProvider
            .CreateSyntaxProvider(
                static (node, _) => node is PropertyDeclarationSyntax property
                    && property.AttributeLists.Any(list => list.Target?.Identifier.IsKind(SyntaxKind.FieldKeyword) == true),
                static (context, token) => DescribeBackingField(context, token))
            .Where(static member => member is not null)
            .Select(static (member, _) => member!)
            .WithTrackingName(TrackingNames.MarkedBackingFields);

        var types = members.Collect()
            .Combine(backingFields.Collect())
            .SelectMany(static (all, _) => Group(all.Left.AddRange(all.Right)))
            .WithTrackingName(TrackingNames.MarkedTypes);

        context.RegisterSourceOutput(types, static (output, type) => output.AddSource(type.HintName, Emit(type)));
    }

    private static MarkedMember? DescribeBackingField(GeneratorSyntaxContext context, CancellationToken token)
    {
        if (context.SemanticModel.GetDeclaredSymbol(context.Node, token) is not IPropertySymbol property)
        {
            return null;
        }

        var backingField = property.ContainingType.GetMembers().OfType<IFieldSymbol>()
            .FirstOrDefault(field => SymbolEqualityComparer.Default.Equals(field.AssociatedSymbol, property));
        var attribute = backingField?.GetAttributes().FirstOrDefault(MarkRules.IsWatermarkAttribute);
        return attribute is null ? null : Describe(property, attribute, token);
    }

    private static MarkedMember? Describe(ISymbol member, AttributeData attribute, CancellationToken token)
    {
        try
        {
            var arguments = MarkRules.Arguments(attribute);
            if (!MarkRules.IsValid(member, attribute, token))
            {
                return null;
            }

            var type = member.ContainingType;
            if (MarkRules.TypeProblemOf(type, token, out _) != TypeProblem.None)
            {
                return null;
            }

            var markedBase = MarkRules.MarkedBase(type, token);
            var clashes = MarkRules.Clashes(type, markedBase);
            var hierarchy = Hierarchy(type, markedBase, [.. clashes.Select(clash => clash.Name).Distinct()]);
            var keyKind = arguments.Key switch
            {
                null => "global::Watermark.WatermarkAttribute.DefaultKey",
                _ when arguments.KeyName is { } name => "global::Watermark.KeyKind." + Escape(name),
                { } value => $"(global::Watermark.KeyKind)({value.ToString(CultureInfo.InvariantCulture)})",
            };
            var strength = arguments.Strength is { } given
                ? given.ToString("R", CultureInfo.InvariantCulture)
                : "global::Watermark.WatermarkAttribute.DefaultStrength";
            return new MarkedMember(hierarchy, new SlotInfo(member.Name, Escape(member.Name), arguments.Bits!.Value, keyKind, strength));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // One type's failure must not take the generator, and so every other type's file, down with it.
            var name = member.ContainingType?.ToDisplayString() ?? member.Name;
            return new MarkedMember(new HierarchyInfo(name, string.Empty, name, default, false, null, default), default, $"{e.GetType().Name}: {e.Message}");
        }
    }

    private static ImmutableArray<MarkedType> Group(ImmutableArray<MarkedMember> all)
    {
        var types = ImmutableArray.CreateBuilder<MarkedType>();
        var hintNames = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var group in all.GroupBy(member => member.Type))
        {
            // A property marked both ways ([Watermark] and [field: Watermark]) is one slot; the analyzer reports the second mark.
            var slots = group.Where(member => member.Error is null).Select(member => member.Slot).GroupBy(slot => slot.Member).Select(same => same.First());
            var error = group.Select(member => member.Error).FirstOrDefault(message => message is not null);
            types.Add(new MarkedType(HintName(group.Key.FileName, hintNames), group.Key, new EquatableArray<SlotInfo>([.. slots]), error));
        }

        return types.ToImmutable();
    }

    // Only characters that are safe in a file name on every platform; distinct types that read the same get a number.
    private static string HintName(string name, HashSet<string> taken)
    {
        var safe = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            safe.Append(c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '_' or '-' or '`' ? c : '_');
        }

        var stem = safe.ToString();
        var candidate = stem;
        for (var i = 2; !taken.Add(candidate); i++)
        {
            candidate = stem + "_" + i.ToString(CultureInfo.InvariantCulture);
        }

        return candidate + ".g.cs";
    }

    private static HierarchyInfo Hierarchy(INamedTypeSymbol type, INamedTypeSymbol? markedBase, ImmutableArray<string> explicitMembers)
    {
        var declarations = ImmutableArray.CreateBuilder<TypeDeclarationInfo>();
        var metadataNames = new List<string>();
        for (var current = type; current is not null; current = current.ContainingType)
        {
            var keyword = current switch
            {
                { TypeKind: TypeKind.Interface } => "interface",
                { IsRecord: true, IsValueType: true } => "record struct",
                { IsRecord: true } => "record",
                { IsValueType: true } => "struct",
                _ => "class",
            };
            var name = current.TypeParameters.IsEmpty
                ? Escape(current.Name)
                : $"{Escape(current.Name)}<{string.Join(", ", current.TypeParameters.Select(Variance))}>";
            declarations.Insert(0, new TypeDeclarationInfo(keyword, name));
            metadataNames.Insert(0, current.MetadataName);
        }

        // Metadata names (Zoo`2) keep hint names apart across generic arities.
        var ns = type.ContainingNamespace is { IsGlobalNamespace: false } containing ? containing.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat).Substring("global::".Length) : string.Empty;
        var plainNs = type.ContainingNamespace is { IsGlobalNamespace: false } named ? named.ToDisplayString() : string.Empty;
        var fileName = string.Join(".", metadataNames);
        return new HierarchyInfo(
            plainNs.Length == 0 ? fileName : plainNs + "." + fileName,
            ns,
            type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat),
            new EquatableArray<TypeDeclarationInfo>(declarations.ToImmutable()),
            type.IsSealed,
            markedBase?.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat),
            new EquatableArray<string>(explicitMembers));
    }

    private static string Variance(ITypeParameterSymbol parameter) => parameter.Variance switch
    {
        VarianceKind.In => "in " + Escape(parameter.Name),
        VarianceKind.Out => "out " + Escape(parameter.Name),
        _ => Escape(parameter.Name),
    };

    private static string Escape(string identifier) =>
        SyntaxFacts.GetKeywordKind(identifier) == SyntaxKind.None ? identifier : "@" + identifier;

    internal static string Emit(MarkedType type)
    {
        const string Declaration = "global::Watermark.WatermarkDeclaration";
        const string Declarations = "global::System.Collections.Generic.IReadOnlyList<global::Watermark.WatermarkDeclaration>";
        const string Modules = "global::Watermark.WatermarkModules";
        var writer = new SourceWriter();
        writer.Line("// <auto-generated/>");
        if (type.Error is not null)
        {
            writer.Line($"// The [Watermark] generator failed on {type.Type.FullName} and generated nothing for it: {type.Error.Replace('\n', ' ').Replace('\r', ' ')}");
            return writer.ToString();
        }

        writer.Line("#nullable enable");
        // The user's own declarations already draw these warnings (an [Obsolete] marked member, a lower-case
        // type name): the generated part that repeats or reads them must not add another.
        writer.Line("#pragma warning disable CS0612, CS0618, CS8981");
        writer.Line();
        var hasNamespace = type.Type.Namespace.Length > 0;
        if (hasNamespace)
        {
            writer.Open($"namespace {type.Type.Namespace}");
        }

        var declarations = type.Type.Types.AsSpan();
        for (var i = 0; i < declarations.Length; i++)
        {
            var last = i == declarations.Length - 1;
            writer.Open($"partial {declarations[i].Keyword} {declarations[i].NameWithTypeParameters}{(last ? " : global::Watermark.IWatermarkable" : string.Empty)}");
        }

        var self = type.Type.FullName;
        var generatedCode = $"[global::System.CodeDom.Compiler.GeneratedCode(\"{MarkRules.Tool}\", \"{Version}\")]";
        const string NonUserCode = "[global::System.Diagnostics.DebuggerNonUserCode]";
        const string NoCoverage = "[global::System.Diagnostics.CodeAnalysis.ExcludeFromCodeCoverage]";

        // One list per type, made once; a derived type's starts with its marked base's, so no mark is lost.
        var access = type.Type.Sealed ? "private" : "protected";
        var hides = type.Type.MarkedBase is null ? string.Empty : " new";
        writer.Line("/// <summary>The [Watermark] layers of this module type and of its marked base types (generated).</summary>");
        writer.Line(generatedCode);
        writer.Line("[global::System.ComponentModel.EditorBrowsable(global::System.ComponentModel.EditorBrowsableState.Never)]");
        writer.Line($"{access}{hides} static readonly {Declarations} {MarkRules.DeclarationsField} = {Declaration}.Inherit(");
        writer.Line($"    {(type.Type.MarkedBase is { } markedBase ? markedBase + "." + MarkRules.DeclarationsField : "null")},");
        var slots = type.Slots.AsSpan();
        for (var i = 0; i < slots.Length; i++)
        {
            var slot = slots[i];
            writer.Line($"    new {Declaration}(typeof({self}), \"{slot.Member}\", module => (({self})module).{slot.Identifier}, {slot.Bits.ToString(CultureInfo.InvariantCulture)}, {slot.KeyKind}, {slot.Strength}){(i == slots.Length - 1 ? ");" : ",")}");
        }

        writer.Line();
        Member(writer, [generatedCode, NonUserCode, NoCoverage], null, $"{Declarations} global::Watermark.IWatermarkable.WatermarkDeclarations => {self}.{MarkRules.DeclarationsField};");

        // A derived type inherits the rest from its marked base; the user's own members of these names keep them, and ours become explicit.
        if (type.Type.MarkedBase is null)
        {
            var explicitMembers = type.Type.ExplicitMembers;
            bool IsExplicit(string name) => explicitMembers.AsSpan().IndexOf(name) >= 0;
            const string Slots = "global::System.Collections.Generic.IReadOnlyList<global::Watermark.WatermarkSlot>";
            const string Loss = "global::TorchSharp.torch.Tensor";
            const string Result = "global::Watermark.VerificationResult";
            const string Keyring = "global::Watermark.Keyring keyring";
            string[] attributes = [generatedCode, NonUserCode, NoCoverage];
            Member(writer, attributes, "WatermarkSlots", IsExplicit("WatermarkSlots")
                ? $"{Slots} global::Watermark.IWatermarkable.WatermarkSlots => {Modules}.GetWatermarkSlots(this);"
                : $"public {Slots} WatermarkSlots => {Modules}.GetWatermarkSlots(this);");
            Member(writer, attributes, "WatermarkLoss", IsExplicit("WatermarkLoss")
                ? $"{Loss} global::Watermark.IWatermarkable.WatermarkLoss({Keyring}) => {Modules}.WatermarkLoss(this, keyring);"
                : $"public {Loss} WatermarkLoss({Keyring}) => {Modules}.WatermarkLoss(this, keyring);");
            Member(writer, attributes, "ExtractWatermark", IsExplicit("ExtractWatermark")
                ? $"{Result} global::Watermark.IWatermarkable.ExtractWatermark({Keyring}, double alpha) => {Modules}.ExtractWatermark(this, keyring, alpha);"
                : $"public {Result} ExtractWatermark({Keyring}, double alpha = global::Watermark.VerificationResult.DefaultAlpha) => {Modules}.ExtractWatermark(this, keyring, alpha);");
        }

        for (var i = 0; i < declarations.Length; i++)
        {
            writer.Close();
        }

        if (hasNamespace)
        {
            writer.Close();
        }

        return writer.ToString();
    }

    private static void Member(SourceWriter writer, string[] attributes, string? documented, string line)
    {
        if (documented is not null)
        {
            writer.Line();
            if (line.StartsWith("public", StringComparison.Ordinal))
            {
                writer.Line("/// <inheritdoc/>");
            }
        }

        foreach (var attribute in attributes)
        {
            writer.Line(attribute);
        }

        writer.Line(line);
    }
}
