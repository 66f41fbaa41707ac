using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace Watermark.Analyzers;

/// <summary>
/// Checks every <c>[Watermark]</c>: the containing type (a partial TorchSharp module), the member
/// (an instance Conv1d/Conv2d/Conv3d/Linear, marked once), Bits and Strength, and the capacity rule
/// T &lt; M wherever the layer's creation makes M a compile-time constant.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class WatermarkAnalyzer : DiagnosticAnalyzer
{
    /// <inheritdoc/>
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
    [
        DiagnosticDescriptors.OverCapacity,
        DiagnosticDescriptors.CapacityUnknown,
        DiagnosticDescriptors.NotPartial,
        DiagnosticDescriptors.UnsupportedMember,
        DiagnosticDescriptors.BitsNotPositive,
        DiagnosticDescriptors.StrengthNotPositive,
        DiagnosticDescriptors.MarkedTwice,
        DiagnosticDescriptors.NotAModule,
    ];

    /// <inheritdoc/>
    public override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.RegisterCompilationStartAction(start =>
        {
            var attribute = start.Compilation.GetTypeByMetadataName(KnownNames.WatermarkAttribute);
            if (attribute is not null)
            {
                start.RegisterSymbolStartAction(symbol => AnalyzeType(symbol, attribute), SymbolKind.NamedType);
            }
        });
    }

    private static void AnalyzeType(SymbolStartAnalysisContext context, INamedTypeSymbol attribute)
    {
        var type = (INamedTypeSymbol)context.Symbol;
        var marked = new Dictionary<ISymbol, AttributeData>(SymbolEqualityComparer.Default);
        foreach (var member in type.GetMembers())
        {
            if (member is IFieldSymbol or IPropertySymbol
                && member.GetAttributes().FirstOrDefault(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, attribute)) is { } data)
            {
                marked[member] = data;
            }
        }

        if (marked.Count == 0)
        {
            return;
        }

        var creations = new ConcurrentDictionary<ISymbol, ConcurrentBag<FilterMeanLength>>(SymbolEqualityComparer.Default);
        var aliases = new ConcurrentDictionary<ISymbol, ISymbol>(SymbolEqualityComparer.Default);

        void Assigned(ISymbol? target, IOperation value)
        {
            if (target is null || !marked.ContainsKey(target))
            {
                return;
            }

            var source = FilterMeanLength.Unwrap(value) switch
            {
                IFieldReferenceOperation field => (ISymbol)field.Field,
                IPropertyReferenceOperation property => property.Property,
                _ => null,
            };
            if (source is not null && !SymbolEqualityComparer.Default.Equals(source, target) && marked.ContainsKey(source))
            {
                aliases.TryAdd(target, source);
                return;
            }

            creations.GetOrAdd(target, _ => []).Add(FilterMeanLength.Of(value));
        }

        context.RegisterOperationAction(
            operation =>
            {
                switch (operation.Operation)
                {
                    case IFieldInitializerOperation initializer:
                        foreach (var field in initializer.InitializedFields)
                        {
                            Assigned(field, initializer.Value);
                        }

                        break;
                    case IPropertyInitializerOperation initializer:
                        foreach (var property in initializer.InitializedProperties)
                        {
                            Assigned(property, initializer.Value);
                        }

                        break;
                    case ISimpleAssignmentOperation assignment:
                        var target = assignment.Target switch
                        {
                            IFieldReferenceOperation { Instance: null or IInstanceReferenceOperation } field => (ISymbol)field.Field,
                            IPropertyReferenceOperation { Instance: null or IInstanceReferenceOperation } property => property.Property,
                            _ => null,
                        };
                        Assigned(target, assignment.Value);
                        break;
                    case IReturnOperation { ReturnedValue: { } returned } when operation.ContainingSymbol is IMethodSymbol { MethodKind: MethodKind.PropertyGet, AssociatedSymbol: { } property }:
                        Assigned(property, returned);
                        break;
                }
            },
            OperationKind.FieldInitializer,
            OperationKind.PropertyInitializer,
            OperationKind.SimpleAssignment,
            OperationKind.Return);

        context.RegisterSymbolEndAction(end =>
        {
            ReportType(end, type);
            foreach (var pair in marked)
            {
                ReportMember(end, pair.Key, pair.Value, creations, aliases);
            }
        });
    }

    private static void ReportType(SymbolAnalysisContext context, INamedTypeSymbol type)
    {
        if (!KnownNames.IsTorchModule(type))
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.NotAModule, Identifier(type, context), type.Name));
        }

        for (var current = type; current is not null; current = current.ContainingType)
        {
            var declarations = current.DeclaringSyntaxReferences.Select(r => r.GetSyntax(context.CancellationToken)).OfType<TypeDeclarationSyntax>().ToArray();
            if (declarations.Length > 0 && !declarations.Any(d => d.Modifiers.Any(SyntaxKind.PartialKeyword)))
            {
                var relation = ReferenceEquals(current, type) ? "has" : "contains a type with";
                context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.NotPartial, declarations[0].Identifier.GetLocation(), current.Name, relation));
            }
        }
    }

    private static void ReportMember(
        SymbolAnalysisContext context,
        ISymbol member,
        AttributeData attribute,
        ConcurrentDictionary<ISymbol, ConcurrentBag<FilterMeanLength>> creations,
        ConcurrentDictionary<ISymbol, ISymbol> aliases)
    {
        var name = $"{member.ContainingType.Name}.{member.Name}";
        var attributeSyntax = attribute.ApplicationSyntaxReference?.GetSyntax(context.CancellationToken) as AttributeSyntax;
        var attributeLocation = attributeSyntax?.GetLocation() ?? member.Locations[0];
        var memberType = member is IFieldSymbol field ? field.Type : ((IPropertySymbol)member).Type;
        if (member.IsStatic)
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.UnsupportedMember, attributeLocation, name, "it is static"));
        }
        else if (KnownNames.LayerKind(memberType) is null)
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.UnsupportedMember, attributeLocation, name, $"its type is {memberType.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat)}"));
            return;
        }

        int? bits = null;
        foreach (var argument in attribute.NamedArguments)
        {
            if (argument.Key == KnownNames.Bits && argument.Value.Value is int value)
            {
                bits = value;
            }
            else if (argument.Key == KnownNames.Strength && argument.Value.Value is double strength && !(strength > 0 && !double.IsInfinity(strength)))
            {
                context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.StrengthNotPositive, ArgumentLocation(attributeSyntax, KnownNames.Strength) ?? attributeLocation, name, strength.ToString(CultureInfo.InvariantCulture)));
            }
        }

        var bitsLocation = ArgumentLocation(attributeSyntax, KnownNames.Bits) ?? attributeLocation;
        if (bits is not > 0)
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.BitsNotPositive, bitsLocation, name, bits?.ToString(CultureInfo.InvariantCulture) ?? "0 (not set)"));
            return;
        }

        if (aliases.TryGetValue(member, out var other))
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.MarkedTwice, attributeLocation, name, $"{other.ContainingType.Name}.{other.Name}"));
            return;
        }

        var lengths = creations.TryGetValue(member, out var found) ? found.ToArray() : [];
        var smallest = lengths.Where(m => m.Value is not null).Select(m => m.Value!.Value).DefaultIfEmpty(long.MaxValue).Min();
        if (smallest <= bits.Value)
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.OverCapacity, bitsLocation, bits.Value, name, smallest));
        }
        else if (lengths.Length == 0 || lengths.Any(m => m.Value is null))
        {
            var because = lengths.FirstOrDefault(m => m.Value is null).UnknownBecause ?? "the layer is not created in a field initializer or constructor of this type";
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.CapacityUnknown, attributeLocation, name, because));
        }
    }

    private static Location? ArgumentLocation(AttributeSyntax? attribute, string name) =>
        attribute?.ArgumentList?.Arguments.FirstOrDefault(a => a.NameEquals?.Name.Identifier.ValueText == name)?.GetLocation();

    private static Location Identifier(INamedTypeSymbol type, SymbolAnalysisContext context) =>
        type.DeclaringSyntaxReferences.Select(r => r.GetSyntax(context.CancellationToken)).OfType<TypeDeclarationSyntax>().FirstOrDefault()?.Identifier.GetLocation() ?? type.Locations[0];
}
