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

    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    public static CSharpCompilation Compilation(params string[] sources) =>
        CSharpCompilation.Create(
            "Consumer",
            sources.Select((source, i) => CSharpSyntaxTree.ParseText(source, ParseOptions, path: $"Source{i}.cs")),
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

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

    /// <summary>Every warning or error of the compilation, generated files included.</summary>
    public static ImmutableArray<Diagnostic> Problems(Compilation compilation) =>
        [.. compilation.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning)];
}
