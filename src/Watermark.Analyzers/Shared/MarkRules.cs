using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Watermark;

/// <summary>
/// The rules for a valid <c>[Watermark]</c>, in one file linked into both the generator and the analyzers:
/// the generator emits a slot exactly when these rules find no problem, and the analyzers report each
/// problem they find, so a mark is never dropped without a diagnostic. Neither project may load the
/// runtime or TorchSharp: names are matched as strings.
/// </summary>
internal static class MarkRules
{
    public const string WatermarkAttribute = "Watermark.WatermarkAttribute";
    public const string Interface = "Watermark.IWatermarkable";
    public const string Bits = "Bits";
    public const string Key = "Key";
    public const string Strength = "Strength";

    /// <summary>The tool name in the generated <c>[GeneratedCode]</c>: how a generated member is told from the user's.</summary>
    public const string Tool = "Watermark.Generators";

    /// <summary>The static list of a type's declarations (protected in an unsealed type, so a derived type's list can start with it).</summary>
    public const string DeclarationsField = "GeneratedWatermarkDeclarations";

    /// <summary>The public members the generator adds to a root marked type (IWatermarkable's, but WatermarkDeclarations, which is explicit).</summary>
    public static readonly ImmutableArray<string> PublicMembers = ["WatermarkSlots", "WatermarkLoss", "ExtractWatermark"];

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

    /// <summary>The capacity rule of the paper (§4.2): T bits fit a filter mean of M entries when T &lt; M.</summary>
    public static bool Fits(long bits, long filterMeanLength) => bits < filterMeanLength;

    public static bool IsWatermarkAttribute(AttributeData attribute) =>
        attribute.AttributeClass?.ToDisplayString() == WatermarkAttribute;

    /// <summary>
    /// Every marked member of a type with its attribute, in declaration order. <c>[field: Watermark]</c> on
    /// an auto-property marks the property (the attribute sits on its backing field).
    /// A member marked both ways is listed twice, its own mark first.
    /// </summary>
    public static ImmutableArray<(ISymbol Member, AttributeData Attribute)> Marks(INamedTypeSymbol type)
    {
        var marks = ImmutableArray.CreateBuilder<(ISymbol, AttributeData)>();

        // Backing fields last, so a property marked both ways counts its own mark first, as the generator does.
        foreach (var member in type.GetMembers().OrderBy(member => member is IFieldSymbol { AssociatedSymbol: not null }))
        {
            if (member is not (IFieldSymbol or IPropertySymbol))
            {
                continue;
            }

            foreach (var attribute in member.GetAttributes())
            {
                if (IsWatermarkAttribute(attribute))
                {
                    marks.Add((Normalize(member), attribute));
                }
            }
        }

        return marks.ToImmutable();
    }

    /// <summary>An auto-property's backing field stands for the property.</summary>
    public static ISymbol Normalize(ISymbol member) => member is IFieldSymbol { AssociatedSymbol: IPropertySymbol property } ? property : member;

    /// <summary>The attribute's named arguments: null where not set.</summary>
    public static MarkArguments Arguments(AttributeData attribute)
    {
        var arguments = default(MarkArguments);
        foreach (var argument in attribute.NamedArguments)
        {
            switch (argument.Key)
            {
                case Bits when argument.Value.Value is int value:
                    arguments.Bits = value;
                    break;
                case Key when argument.Value.Value is int value:
                    arguments.Key = value;
                    arguments.KeyName = argument.Value.Type?.GetMembers().OfType<IFieldSymbol>()
                        .FirstOrDefault(field => field.HasConstantValue && Equals(field.ConstantValue, value))?.Name;
                    break;
                case Strength when argument.Value.Value is double value:
                    arguments.Strength = value;
                    break;
            }
        }

        return arguments;
    }

    public static bool BitsValid(int? bits) => bits > 0;

    public static bool StrengthValid(double? strength) => strength is not { } value || (value > 0 && !double.IsInfinity(value));

    /// <summary>Why the member cannot be a slot (WMK004 wording), or null.</summary>
    public static string? UnsupportedBecause(ISymbol member)
    {
        var type = member switch
        {
            IFieldSymbol field => field.Type,
            IPropertySymbol property => property.Type,
            _ => null,
        };
        if (member.IsStatic)
        {
            return "it is static";
        }

        if (LayerKind(type) is null)
        {
            return $"its type is {type?.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat) ?? member.Kind.ToString()}";
        }

        return member switch
        {
            IPropertySymbol { IsIndexer: true } => "it is an indexer",
            IPropertySymbol { GetMethod: null } => "it has no get accessor, so the layer cannot be read; add a getter or mark the field that holds the layer",
            IPropertySymbol { ExplicitInterfaceImplementations.IsEmpty: false } => "it is an explicit interface implementation",
            _ => null,
        };
    }

    /// <summary>The other variables when the field shares its declaration (<c>Conv2d conv1, conv2;</c>), or empty.</summary>
    public static ImmutableArray<string> SharedDeclaration(ISymbol member, CancellationToken token)
    {
        if (member is not IFieldSymbol { AssociatedSymbol: null })
        {
            return [];
        }

        foreach (var reference in member.DeclaringSyntaxReferences)
        {
            if (reference.GetSyntax(token) is VariableDeclaratorSyntax { Parent: VariableDeclarationSyntax { Variables.Count: > 1 } declaration })
            {
                return [.. declaration.Variables.Select(variable => variable.Identifier.ValueText)];
            }
        }

        return [];
    }

    /// <summary>Problems of the type that holds marks; each stops all generation for it.</summary>
    public static TypeProblem TypeProblemOf(INamedTypeSymbol type, CancellationToken token, out INamedTypeSymbol? culprit)
    {
        culprit = type;
        if (!IsTorchModule(type))
        {
            return TypeProblem.NotAModule;
        }

        for (var current = type; current is not null; current = current.ContainingType)
        {
            culprit = current;
            if (current.IsFileLocal)
            {
                return TypeProblem.FileLocal;
            }

            var declarations = current.DeclaringSyntaxReferences.Select(r => r.GetSyntax(token)).OfType<TypeDeclarationSyntax>().ToArray();
            if (declarations.Length > 0 && !declarations.Any(d => d.Modifiers.Any(SyntaxKind.PartialKeyword)))
            {
                return TypeProblem.NotPartial;
            }
        }

        culprit = null;
        return DeclaresReserved(type) is not null ? TypeProblem.ReservedName : TypeProblem.None;
    }

    /// <summary>A member of the user's that is named like the static declarations list (the generator then cannot add it).</summary>
    public static ISymbol? DeclaresReserved(INamedTypeSymbol type)
    {
        for (var current = type; current is not null; current = current.BaseType)
        {
            foreach (var member in current.GetMembers(DeclarationsField))
            {
                var visible = ReferenceEquals(current, type) || member.DeclaredAccessibility != Accessibility.Private;
                if (visible && !IsGenerated(member) && !(member.IsImplicitlyDeclared && member is IFieldSymbol))
                {
                    return member;
                }
            }
        }

        return null;
    }

    /// <summary>Whether a valid mark makes the generator implement IWatermarkable for this type.</summary>
    public static bool GetsGeneratedCode(INamedTypeSymbol type, CancellationToken token)
    {
        if (TypeProblemOf(type, token, out _) != TypeProblem.None)
        {
            return false;
        }

        return Marks(type).Any(mark => IsValid(mark.Member, mark.Attribute, token));
    }

    /// <summary>A member-level check: the member can be a slot and the arguments are valid.</summary>
    public static bool IsValid(ISymbol member, AttributeData attribute, CancellationToken token)
    {
        var arguments = Arguments(attribute);
        return UnsupportedBecause(member) is null
            && SharedDeclaration(member, token).IsEmpty
            && BitsValid(arguments.Bits)
            && StrengthValid(arguments.Strength);
    }

    /// <summary>
    /// The nearest base type whose declarations a derived type's list starts with: one the generator
    /// handles in this compilation, or one (from a reference) that already carries the generated list.
    /// </summary>
    public static INamedTypeSymbol? MarkedBase(INamedTypeSymbol type, CancellationToken token)
    {
        for (var current = type.BaseType; current is not null; current = current.BaseType)
        {
            if (current.GetMembers(DeclarationsField).Any(IsGenerated)
                || (current.DeclaringSyntaxReferences.Length > 0 && GetsGeneratedCode(current, token)))
            {
                return current;
            }
        }

        return null;
    }

    /// <summary>
    /// Generated public members that would clash with the user's (declared in the type, or inherited from
    /// a base the generator does not handle): the generator implements them explicitly instead.
    /// Empty for a type with a marked base, which adds no public members.
    /// </summary>
    public static ImmutableArray<(string Name, ISymbol Existing)> Clashes(INamedTypeSymbol type, INamedTypeSymbol? markedBase)
    {
        if (markedBase is not null)
        {
            return [];
        }

        var clashes = ImmutableArray.CreateBuilder<(string, ISymbol)>();
        foreach (var name in PublicMembers)
        {
            for (var current = type; current is not null; current = current.BaseType)
            {
                var existing = current.GetMembers(name).FirstOrDefault(member =>
                    !IsGenerated(member) && (ReferenceEquals(current, type) || member.DeclaredAccessibility != Accessibility.Private));
                if (existing is not null)
                {
                    clashes.Add((name, existing));
                    break;
                }
            }
        }

        return clashes.ToImmutable();
    }

    /// <summary>Whether the symbol was written by this generator (it carries <c>[GeneratedCode("Watermark.Generators", …)]</c>).</summary>
    public static bool IsGenerated(ISymbol symbol) =>
        symbol.GetAttributes().Any(attribute =>
            attribute.AttributeClass?.ToDisplayString() == "System.CodeDom.Compiler.GeneratedCodeAttribute"
            && attribute.ConstructorArguments.Length > 0
            && attribute.ConstructorArguments[0].Value as string == Tool);
}

/// <summary>The named arguments of one [Watermark]; null where not set.</summary>
internal struct MarkArguments
{
    public int? Bits;
    public int? Key;
    public string? KeyName;
    public double? Strength;
}

/// <summary>Why a type with marks gets no generated code.</summary>
internal enum TypeProblem
{
    None,
    NotAModule,
    NotPartial,
    FileLocal,
    ReservedName,
}
