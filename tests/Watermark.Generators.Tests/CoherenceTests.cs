using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Watermark.Analyzers;
using Xunit;

namespace Watermark.Generators.Tests;

/// <summary>
/// The generator and the analyzers follow one set of rules: for every [Watermark] in a corpus of broken
/// declarations, either the generated code holds the slot or the analyzer says why not — never silence.
/// </summary>
public class CoherenceTests
{
    private const string Usings = """
        using TorchSharp.Modules;
        using Watermark;
        using static TorchSharp.torch;

        """;

    private static string Module(string members, string declaration = "public sealed partial class Block : nn.Module<Tensor, Tensor>") => $$"""
        {{declaration}}
        {
            {{members}}
            public Block() : base("Block") { }
            public override Tensor forward(Tensor x) => x;
        }
        """;

    public static TheoryData<string, string> Corpus() => new()
    {
        { "valid", Module("[Watermark(Bits = 8)] private readonly Linear a = nn.Linear(16, 4);") },
        { "non-partial type", Module("[Watermark(Bits = 8)] private readonly Linear a = nn.Linear(16, 4);", "public sealed class Block : nn.Module<Tensor, Tensor>") },
        { "nested in a non-partial type", "public static class Outer {\n" + Module("[Watermark(Bits = 8)] private readonly Linear a = nn.Linear(16, 4);") + "\n}" },
        { "not a module", "public sealed partial class Block { [Watermark(Bits = 8)] private readonly Linear a = nn.Linear(16, 4); }" },
        { "file-local", Module("[Watermark(Bits = 8)] private readonly Linear a = nn.Linear(16, 4);", "file sealed partial class Block : nn.Module<Tensor, Tensor>") },
        { "static field", Module("[Watermark(Bits = 8)] private static readonly Linear a = nn.Linear(16, 4);") },
        { "wrong layer type", Module("[Watermark(Bits = 8)] private readonly Dropout a = nn.Dropout();") },
        { "not a layer at all", Module("[Watermark(Bits = 8)] private readonly int a = 3;") },
        { "bits unset", Module("[Watermark] private readonly Linear a = nn.Linear(16, 4);") },
        { "negative strength", Module("[Watermark(Bits = 8, Strength = -1)] private readonly Linear a = nn.Linear(16, 4);") },
        { "set-only property", Module("[Watermark(Bits = 8)] public Linear A { set { } }") },
        { "indexer", Module("[Watermark(Bits = 8)] public Linear this[int i] => nn.Linear(16, 4);") },
        { "several variables", Module("[Watermark(Bits = 8)] private readonly Linear a = nn.Linear(16, 4), b = nn.Linear(16, 4);") },
        { "field-targeted auto-property", Module("[field: Watermark(Bits = 8)] public Linear A { get; } = nn.Linear(16, 4);") },
        { "marked both ways", Module("[Watermark(Bits = 8)] [field: Watermark(Bits = 4)] public Linear A { get; } = nn.Linear(16, 4);") },
        { "clashing names", Module("[Watermark(Bits = 8)] private readonly Linear a = nn.Linear(16, 4); public int WatermarkLoss() => 0; public int ExtractWatermark; public int WatermarkSlots => 1;") },
        { "reserved name", Module("[Watermark(Bits = 8)] private readonly Linear a = nn.Linear(16, 4); private static readonly int GeneratedWatermarkDeclarations = 1;") },
        { "over capacity", Module("[Watermark(Bits = 600)] private readonly Conv2d a = nn.Conv2d(64, 64, 3);") },
        { "alias", Module("[Watermark(Bits = 8)] private readonly Linear a = nn.Linear(16, 4); [Watermark(Bits = 8)] public Linear B => a;") },
    };

    [Theory]
    [MemberData(nameof(Corpus))]
    public async Task EveryMarkIsGeneratedOrExplained(string name, string source)
    {
        var (files, output) = GeneratorHarness.Run(Usings + source);
        Assert.Empty(GeneratorHarness.Problems(output));
        var diagnostics = await output.WithAnalyzers([new WatermarkAnalyzer()]).GetAnalyzerDiagnosticsAsync();
        var generated = string.Concat(files.Values);
        var tree = output.SyntaxTrees.First();
        var marks = tree.GetRoot().DescendantNodes().OfType<AttributeSyntax>().Where(a => a.Name.ToString() == "Watermark").ToArray();
        Assert.NotEmpty(marks);
        foreach (var mark in marks)
        {
            var member = mark.Ancestors().First(n => n is MemberDeclarationSyntax);
            var type = (TypeDeclarationSyntax)member.Ancestors().First(n => n is TypeDeclarationSyntax);
            IEnumerable<string> names = member switch
            {
                FieldDeclarationSyntax field => field.Declaration.Variables.Select(v => v.Identifier.ValueText),
                PropertyDeclarationSyntax property => [property.Identifier.ValueText],
                _ => ["this[]"],
            };
            foreach (var memberName in names)
            {
                var inCode = generated.Contains($"\"{memberName}\", module =>", StringComparison.Ordinal);
                var explained = diagnostics.Any(d => d.Location.SourceTree == tree
                    && (member.Span.Contains(d.Location.SourceSpan) || d.Location.SourceSpan.IntersectsWith(type.Identifier.Span)
                        || type.Ancestors().OfType<TypeDeclarationSyntax>().Any(outer => d.Location.SourceSpan.IntersectsWith(outer.Identifier.Span))));
                Assert.True(inCode || explained, $"{name}: '{memberName}' got neither code nor a diagnostic; diagnostics: {string.Join("; ", diagnostics)}");
            }
        }
    }

    [Fact]
    public async Task ValidModulesWithTheirGeneratedCodeDrawNoDiagnostic()
    {
        // The analyzer sees the generated members too: they must not count as clashes or reserved names.
        var (files, output) = GeneratorHarness.Run(Usings + """
            public partial class Base : nn.Module<Tensor, Tensor>
            {
                [Watermark(Bits = 8)] private readonly Linear a = nn.Linear(16, 4);
                protected Base(string name) : base(name) { }
                public override Tensor forward(Tensor x) => a.forward(x);
            }
            public sealed partial class Derived : Base
            {
                [Watermark(Bits = 4)] private readonly Linear b = nn.Linear(16, 4);
                public Derived() : base("Derived") => RegisterComponents();
            }
            """);
        Assert.Equal(2, files.Count);
        Assert.Empty(GeneratorHarness.Problems(output));
        Assert.Empty(await output.WithAnalyzers([new WatermarkAnalyzer()]).GetAnalyzerDiagnosticsAsync());
    }

    [Fact]
    public async Task TheCorpusCoversEveryErrorTheAnalyzerHasForMarks()
    {
        var ids = new HashSet<string>();
        foreach (var entry in Corpus())
        {
            var (_, output) = GeneratorHarness.Run(Usings + (string)entry[1]);
            ids.UnionWith((await output.WithAnalyzers([new WatermarkAnalyzer()]).GetAnalyzerDiagnosticsAsync()).Select(d => d.Id));
        }

        Assert.Superset(new HashSet<string> { "WMK001", "WMK003", "WMK004", "WMK005", "WMK006", "WMK007", "WMK008", "WMK009", "WMK010", "WMK011" }, ids);
    }
}
