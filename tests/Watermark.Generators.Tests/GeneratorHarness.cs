using System;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Watermark.Generators.Tests;

/// <summary>Compiles sources against the real runtime and TorchSharp, and runs <see cref="WatermarkGenerator"/> on them.</summary>
internal static class GeneratorHarness
{
    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
        [.. ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(path => !Path.GetFileName(path).StartsWith("Watermark.Generators", StringComparison.Ordinal))
            .Select(path => MetadataReference.CreateFromFile(path))]);

    // Documentation comments are checked, so a public generated member without docs would warn (CS1591).
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest, DocumentationMode.Diagnose);

    public static CSharpCompilation Compilation(params string[] sources) =>
        CSharpCompilation.Create(
            "Consumer",
            sources.Select((source, i) => CSharpSyntaxTree.ParseText(source, ParseOptions, path: $"Source{i}.cs")),
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable, warningLevel: 9999));

    public static GeneratorDriver Driver() =>
        CSharpGeneratorDriver.Create(
            [new WatermarkGenerator().AsSourceGenerator()],
            parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs the generator; returns the generated files by hint name and the compilation with them.</summary>
    public static (ImmutableDictionary<string, string> Files, Compilation Output) Run(params string[] sources)
    {
        var compilation = Compilation(sources);
        Driver().RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics);
        Xunit.Assert.Empty(diagnostics);
        var files = output.SyntaxTrees
            .Skip(sources.Length)
            .ToImmutableDictionary(tree => Path.GetFileName(tree.FilePath), tree => tree.ToString());
        return (files, output);
    }

    /// <summary>Every error of the compilation, and every warning in a generated file (the test sources may lack docs).</summary>
    public static ImmutableArray<Diagnostic> Problems(Compilation compilation) =>
        [.. compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error
            || (d.Severity == DiagnosticSeverity.Warning && d.Location.SourceTree?.FilePath.EndsWith(".g.cs", StringComparison.Ordinal) == true))];
}
