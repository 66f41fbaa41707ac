using System;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Testing;

namespace Watermark.Analyzers.Tests;

/// <summary>Runs the analyzer (and code fix) over test code compiled against the real runtime and TorchSharp, offline.</summary>
internal static class Verifier
{
    public const string Usings = """
        using TorchSharp.Modules;
        using Watermark;
        using static TorchSharp.torch;

        """;

    /// <summary>A module named Block with the given members, constructor body and declaration line.</summary>
    public static string Block(string members, string constructor = "", string declaration = "public sealed partial class Block") => $$"""
        {{declaration}} : nn.Module<Tensor, Tensor>
        {
            {{members}}
            public Block() : base("Block") { {{constructor}} RegisterComponents(); }
            public override Tensor forward(Tensor x) => x;
        }
        """;

    // The running process's own assemblies (the runtime, TorchSharp, the BCL): no reference pack to download.
    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
        [.. ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(path => !Path.GetFileName(path).StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal))
            .Select(path => MetadataReference.CreateFromFile(path))]);

    private static readonly ReferenceAssemblies Empty = new("net10.0");

    public static DiagnosticResult Diagnostic(string id) => new(id, DiagnosticSeverity.Warning);

    public static async Task Analyze(string source, params DiagnosticResult[] expected)
    {
        var test = new CSharpAnalyzerTest<WatermarkAnalyzer, DefaultVerifier> { TestCode = Usings + source, ReferenceAssemblies = Empty };
        test.TestState.AdditionalReferences.AddRange(References.Value);
        test.ExpectedDiagnostics.AddRange(expected);
        await test.RunAsync();
    }

    public static async Task Fix(string source, string fixedSource)
    {
        var test = new CSharpCodeFixTest<WatermarkAnalyzer, MakePartialCodeFix, DefaultVerifier>
        {
            TestCode = Usings + source,
            FixedCode = Usings + fixedSource,
            ReferenceAssemblies = Empty,
        };
        test.TestState.AdditionalReferences.AddRange(References.Value);
        test.FixedState.AdditionalReferences.AddRange(References.Value);
        await test.RunAsync();
    }
}
