using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Watermark.Generators.Models;

namespace Watermark.Generators;

/// <summary>
/// For each partial TorchSharp module with <c>[Watermark]</c> layers, emits one file that implements
/// <c>Watermark.IWatermarkable</c> by listing the marked layers and forwarding to the runtime.
/// Invalid marks generate nothing; the analyzers (WMK…) explain them.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class WatermarkGenerator : IIncrementalGenerator
{
    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var members = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                KnownNames.WatermarkAttribute,
                static (node, _) => node is VariableDeclaratorSyntax { Parent.Parent: FieldDeclarationSyntax } or PropertyDeclarationSyntax,
                static (context, token) => Describe(context, token))
            .Where(static member => member is not null)
            .Select(static (member, _) => member!)
            .WithTrackingName(TrackingNames.MarkedMembers);

        var types = members
            .Collect()
            .SelectMany(static (all, _) => all
                .GroupBy(member => member.Type)
                .Select(group => new MarkedType(group.Key, new EquatableArray<SlotInfo>([.. group.Select(member => member.Slot)])))
                .ToImmutableArray())
            .WithTrackingName(TrackingNames.MarkedTypes);

        context.RegisterSourceOutput(types, static (output, type) => output.AddSource(type.Type.FileName + ".g.cs", Emit(type)));
    }

    private static MarkedMember? Describe(GeneratorAttributeSyntaxContext context, CancellationToken token)
    {
        var member = context.TargetSymbol;
        var memberType = member switch
        {
            IFieldSymbol field => field.Type,
            IPropertySymbol property => property.Type,
            _ => null,
        };
        if (member.IsStatic || KnownNames.LayerKind(memberType) is null || context.Attributes.Length != 1)
        {
            return null;
        }

        var type = member.ContainingType;
        if (!KnownNames.IsTorchModule(type) || !IsPartialAllTheWayOut(type, token))
        {
            return null;
        }

        int bits = 0, kind = KnownNames.DefaultKeyKind;
        var strength = KnownNames.DefaultStrength;
        foreach (var argument in context.Attributes[0].NamedArguments)
        {
            switch (argument.Key)
            {
                case KnownNames.Bits when argument.Value.Value is int value:
                    bits = value;
                    break;
                case KnownNames.Key when argument.Value.Value is int value:
                    kind = value;
                    break;
                case KnownNames.Strength when argument.Value.Value is double value:
                    strength = value;
                    break;
            }
        }

        if (bits <= 0 || !(strength > 0) || double.IsInfinity(strength))
        {
            return null;
        }

        return new MarkedMember(Hierarchy(type), new SlotInfo(member.Name, bits, kind, strength));
    }

    private static bool IsPartialAllTheWayOut(INamedTypeSymbol type, CancellationToken token)
    {
        for (var current = type; current is not null; current = current.ContainingType)
        {
            var partial = current.DeclaringSyntaxReferences
                .Select(reference => reference.GetSyntax(token))
                .OfType<TypeDeclarationSyntax>()
                .Any(declaration => declaration.Modifiers.Any(SyntaxKind.PartialKeyword));
            if (!partial)
            {
                return false;
            }
        }

        return true;
    }

    private static HierarchyInfo Hierarchy(INamedTypeSymbol type)
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
                ? current.Name
                : $"{current.Name}<{string.Join(", ", current.TypeParameters.Select(parameter => parameter.Name))}>";
            declarations.Insert(0, new TypeDeclarationInfo(keyword, name));
            metadataNames.Insert(0, current.MetadataName);
        }

        // Metadata names (Zoo`2) keep hint names unique across generic arities.
        var ns = type.ContainingNamespace is { IsGlobalNamespace: false } containing ? containing.ToDisplayString() : string.Empty;
        var fileName = string.Join(".", metadataNames);
        return new HierarchyInfo(ns.Length == 0 ? fileName : ns + "." + fileName, ns, new EquatableArray<TypeDeclarationInfo>(declarations.ToImmutable()));
    }

    internal static string Emit(MarkedType type)
    {
        const string Declaration = "global::Watermark.WatermarkDeclaration";
        const string Modules = "global::Watermark.WatermarkModules";
        var writer = new SourceWriter();
        writer.Line("// <auto-generated/>");
        writer.Line("#nullable enable");
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

        writer.Open($"global::System.Collections.Generic.IReadOnlyList<{Declaration}> global::Watermark.IWatermarkable.WatermarkDeclarations => new {Declaration}[]");
        foreach (var slot in type.Slots)
        {
            var member = SyntaxFacts.GetKeywordKind(slot.Member) == SyntaxKind.None ? slot.Member : "@" + slot.Member;
            writer.Line($"new {Declaration}(\"{slot.Member}\", this.{member}, {slot.Bits.ToString(CultureInfo.InvariantCulture)}, {KeyKind(slot.KeyKind)}, {slot.Strength.ToString("R", CultureInfo.InvariantCulture)}),");
        }

        writer.Close(";");
        writer.Line();
        writer.Line("/// <inheritdoc/>");
        writer.Line($"public global::System.Collections.Generic.IReadOnlyList<global::Watermark.WatermarkSlot> WatermarkSlots => {Modules}.GetWatermarkSlots(this);");
        writer.Line();
        writer.Line("/// <inheritdoc/>");
        writer.Line($"public global::TorchSharp.torch.Tensor WatermarkLoss(global::Watermark.Keyring keyring) => {Modules}.WatermarkLoss(this, keyring);");
        writer.Line();
        writer.Line("/// <inheritdoc/>");
        writer.Line($"public global::Watermark.VerificationResult ExtractWatermark(global::Watermark.Keyring keyring, double alpha = global::Watermark.VerificationResult.DefaultAlpha) => {Modules}.ExtractWatermark(this, keyring, alpha);");
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

    private static string KeyKind(int value) => value switch
    {
        0 => "global::Watermark.KeyKind.Direct",
        1 => "global::Watermark.KeyKind.Diff",
        2 => "global::Watermark.KeyKind.Random",
        _ => $"(global::Watermark.KeyKind){value.ToString(CultureInfo.InvariantCulture)}",
    };
}
