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
/// Checks every <c>[Watermark]</c> with <see cref="MarkRules"/>, the rules the generator follows: the
/// containing type (a partial, not file-local TorchSharp module without the generator's names), the member
/// (an instance Conv1d/Conv2d/Conv3d/Linear, readable, alone in its declaration, marked once), Bits and
/// Strength, and the capacity rule T &lt; M wherever the layer's creation, or a construction of the
/// module with constant arguments, makes M a compile-time constant.
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
        DiagnosticDescriptors.NameClash,
        DiagnosticDescriptors.FileLocal,
        DiagnosticDescriptors.SharedDeclaration,
        DiagnosticDescriptors.OverCapacityAsConstructed,
    ];

    /// <inheritdoc/>
    public override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.RegisterCompilationStartAction(start =>
        {
            var attribute = start.Compilation.GetTypeByMetadataName(MarkRules.WatermarkAttribute);
            if (attribute is null)
            {
                return;
            }

            // Layers whose M depends on a constructor's parameters, and the constructions that may bind them to constants.
            var parametrised = new ConcurrentBag<ParametrisedLayer>();
            var constructions = new ConcurrentBag<IOperation>();
            start.RegisterSymbolStartAction(symbol => AnalyzeType(symbol, parametrised), SymbolKind.NamedType);
            start.RegisterOperationAction(
                operation =>
                {
                    if (operation.Operation is IObjectCreationOperation { Constructor: not null } or IInvocationOperation { TargetMethod.MethodKind: MethodKind.Constructor })
                    {
                        constructions.Add(operation.Operation);
                    }
                },
                OperationKind.ObjectCreation,
                OperationKind.Invocation);
            start.RegisterCompilationEndAction(end => ReportConstructions(end, parametrised, constructions));
        });
    }

    private sealed record ParametrisedLayer(IMethodSymbol Constructor, string Name, int Bits, IOperation Creation);

    private static void AnalyzeType(SymbolStartAnalysisContext context, ConcurrentBag<ParametrisedLayer> parametrised)
    {
        var type = (INamedTypeSymbol)context.Symbol;
        var marks = MarkRules.Marks(type);
        if (marks.IsEmpty)
        {
            return;
        }

        var marked = new Dictionary<ISymbol, AttributeData>(SymbolEqualityComparer.Default);
        var markedTwice = new List<(ISymbol Member, AttributeData Attribute)>();
        foreach (var (member, attribute) in marks)
        {
            if (!marked.ContainsKey(member))
            {
                marked.Add(member, attribute);
            }
            else
            {
                markedTwice.Add((member, attribute));
            }
        }

        var creations = new ConcurrentDictionary<ISymbol, ConcurrentBag<FilterMeanLength>>(SymbolEqualityComparer.Default);
        var aliases = new ConcurrentDictionary<ISymbol, ISymbol>(SymbolEqualityComparer.Default);

        void Assigned(ISymbol? target, IOperation value)
        {
            if (target is null || !marked.ContainsKey(target = MarkRules.Normalize(target)))
            {
                return;
            }

            var source = FilterMeanLength.Unwrap(value) switch
            {
                IFieldReferenceOperation field => MarkRules.Normalize(field.Field),
                IPropertyReferenceOperation property => property.Property,
                _ => null,
            };
            if (source is not null && !SymbolEqualityComparer.Default.Equals(source, target) && marked.ContainsKey(source))
            {
                aliases.TryAdd(target, source);
                return;
            }

            var length = FilterMeanLength.Of(value);
            creations.GetOrAdd(target, _ => []).Add(length);
            if (length.Value is null
                && MarkRules.Arguments(marked[target]).Bits is > 0 and var bits
                && value.DescendantsAndSelf().OfType<IParameterReferenceOperation>().FirstOrDefault()?.Parameter.ContainingSymbol is IMethodSymbol { MethodKind: MethodKind.Constructor } constructor)
            {
                parametrised.Add(new ParametrisedLayer(constructor, Name(target), bits, value));
            }
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

            foreach (var (member, attribute) in markedTwice)
            {
                end.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.MarkedTwice, AttributeLocation(attribute, member, end), Name(member), Name(member)));
            }
        });
    }

    private static void ReportType(SymbolAnalysisContext context, INamedTypeSymbol type)
    {
        if (!MarkRules.IsTorchModule(type))
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.NotAModule, Identifier(type, context), type.Name));
        }

        for (var current = type; current is not null; current = current.ContainingType)
        {
            var declarations = current.DeclaringSyntaxReferences.Select(r => r.GetSyntax(context.CancellationToken)).OfType<TypeDeclarationSyntax>().ToArray();
            if (current.IsFileLocal)
            {
                context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.FileLocal, Identifier(current, context), current.Name));
            }
            else if (declarations.Length > 0 && !declarations.Any(d => d.Modifiers.Any(SyntaxKind.PartialKeyword)))
            {
                var relation = ReferenceEquals(current, type) ? "has" : "contains a type with";
                context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.NotPartial, declarations[0].Identifier.GetLocation(), current.Name, relation));
            }
        }

        if (MarkRules.DeclaresReserved(type) is { } reserved)
        {
            // On the type, like the other problems that leave a whole type without generated code.
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.NameClash, Identifier(type, context), reserved.Locations.Where(l => l.IsInSource), type.Name, MarkRules.DeclarationsField, $"nothing is generated for '{type.Name}'"));
        }
        else if (MarkRules.GetsGeneratedCode(type, context.CancellationToken))
        {
            foreach (var (name, existing) in MarkRules.Clashes(type, MarkRules.MarkedBase(type, context.CancellationToken)))
            {
                var instead = $"the generated one is implemented explicitly, as IWatermarkable.{name}, so call it through IWatermarkable or WatermarkModules.{(name == "WatermarkSlots" ? "GetWatermarkSlots" : name)}(model, …)";
                context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.NameClash, Where(existing, type, context), type.Name, name, instead));
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
        var name = Name(member);
        var attributeSyntax = attribute.ApplicationSyntaxReference?.GetSyntax(context.CancellationToken) as AttributeSyntax;
        var attributeLocation = AttributeLocation(attribute, member, context);
        if (MarkRules.UnsupportedBecause(member) is { } because)
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.UnsupportedMember, attributeLocation, name, because));
            return;
        }

        var shared = MarkRules.SharedDeclaration(member, context.CancellationToken);
        if (!shared.IsEmpty)
        {
            // One diagnostic per declaration, on its first variable's turn.
            if (shared[0] == member.Name)
            {
                context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.SharedDeclaration, attributeLocation, shared.Length, string.Join(", ", shared)));
            }

            return;
        }

        var arguments = MarkRules.Arguments(attribute);
        if (!MarkRules.StrengthValid(arguments.Strength))
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.StrengthNotPositive, ArgumentLocation(attributeSyntax, MarkRules.Strength) ?? attributeLocation, name, arguments.Strength!.Value.ToString(CultureInfo.InvariantCulture)));
        }

        var bitsLocation = ArgumentLocation(attributeSyntax, MarkRules.Bits) ?? attributeLocation;
        if (!MarkRules.BitsValid(arguments.Bits))
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.BitsNotPositive, bitsLocation, name, arguments.Bits?.ToString(CultureInfo.InvariantCulture) ?? "0 (not set)"));
            return;
        }

        var bits = arguments.Bits!.Value;
        if (aliases.TryGetValue(member, out var other))
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.MarkedTwice, attributeLocation, name, Name(other)));
            return;
        }

        var lengths = creations.TryGetValue(member, out var found) ? found.ToArray() : [];
        var smallest = lengths.Where(m => m.Value is not null).Select(m => m.Value!.Value).DefaultIfEmpty(long.MaxValue).Min();
        if (!MarkRules.Fits(bits, smallest))
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.OverCapacity, bitsLocation, bits, name, smallest));
        }
        else if (lengths.Length == 0 || lengths.Any(m => m.Value is null))
        {
            var why = lengths.FirstOrDefault(m => m.Value is null).UnknownBecause ?? "the layer is not created in a field initializer or constructor of this type";
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.CapacityUnknown, attributeLocation, name, why));
        }
    }

    // new Block(16) or base(16): where a constructor's constants decide M of a layer it creates.
    private static void ReportConstructions(CompilationAnalysisContext context, ConcurrentBag<ParametrisedLayer> parametrised, ConcurrentBag<IOperation> constructions)
    {
        if (parametrised.IsEmpty)
        {
            return;
        }

        var byConstructor = parametrised.GroupBy(layer => layer.Constructor, SymbolEqualityComparer.Default)
            .ToDictionary(group => group.Key!, group => group.ToArray(), SymbolEqualityComparer.Default);
        foreach (var construction in constructions)
        {
            var (constructor, arguments) = construction switch
            {
                IObjectCreationOperation creation => (creation.Constructor!, creation.Arguments),
                IInvocationOperation call => (call.TargetMethod, call.Arguments),
                _ => (null!, default(ImmutableArray<IArgumentOperation>)),
            };
            if (constructor is null || !byConstructor.TryGetValue(constructor.OriginalDefinition, out var layers))
            {
                continue;
            }

            long? Bind(IParameterSymbol parameter) =>
                arguments.FirstOrDefault(a => a.Parameter?.Ordinal == parameter.Ordinal)?.Value.ConstantValue is { HasValue: true, Value: int or long or short or byte or sbyte or ushort or uint } constant
                    ? System.Convert.ToInt64(constant.Value, CultureInfo.InvariantCulture)
                    : null;

            foreach (var layer in layers)
            {
                if (FilterMeanLength.Of(layer.Creation, Bind).Value is { } length && !MarkRules.Fits(layer.Bits, length))
                {
                    context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.OverCapacityAsConstructed, construction.Syntax.GetLocation(), layer.Bits, layer.Name, length));
                }
            }
        }
    }

    private static string Name(ISymbol member) => $"{member.ContainingType.Name}.{member.Name}";

    private static Location AttributeLocation(AttributeData attribute, ISymbol member, SymbolAnalysisContext context) =>
        (attribute.ApplicationSyntaxReference?.GetSyntax(context.CancellationToken) as AttributeSyntax)?.GetLocation() ?? member.Locations[0];

    private static Location? ArgumentLocation(AttributeSyntax? attribute, string name) =>
        attribute?.ArgumentList?.Arguments.FirstOrDefault(a => a.NameEquals?.Name.Identifier.ValueText == name)?.GetLocation();

    // The clashing member where it is in this type's source, the type's name otherwise.
    private static Location Where(ISymbol existing, INamedTypeSymbol type, SymbolAnalysisContext context) =>
        SymbolEqualityComparer.Default.Equals(existing.ContainingType, type) && existing.Locations.FirstOrDefault(l => l.IsInSource) is { } location
            ? location
            : Identifier(type, context);

    private static Location Identifier(INamedTypeSymbol type, SymbolAnalysisContext context) =>
        type.DeclaringSyntaxReferences.Select(r => r.GetSyntax(context.CancellationToken)).OfType<TypeDeclarationSyntax>().FirstOrDefault()?.Identifier.GetLocation() ?? type.Locations[0];
}
