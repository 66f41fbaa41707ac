using System;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace Watermark.Generators.Tests;

/// <summary>
/// Every <c>```csharp</c> block of the README compiles — as a program of its own, with the generator
/// run on it and nothing but <c>model</c>, <c>criterion</c>, <c>images</c>, <c>labels</c> and
/// <c>trainSet</c> given — without errors or warnings.
/// </summary>
public sealed partial class ReadmeTests
{
    // What the README's prose says the reader already has.
    private const string Given = """
        global using static ReadmeGiven;
        using TorchSharp.Modules;
        using static TorchSharp.torch;

        internal static class ReadmeGiven
        {
            public static nn.Module<Tensor, Tensor> model = null!;
            public static CrossEntropyLoss criterion = null!;
            public static Tensor images = null!;
            public static Tensor labels = null!;
            public static utils.data.Dataset trainSet = null!;
        }
        """;

    [GeneratedRegex(@"^```csharp\n(.*?)^```", RegexOptions.Singleline | RegexOptions.Multiline)]
    private static partial Regex CSharpBlock();

    private static string Readme() => File.ReadAllText(Path.Combine(Repository(), "README.md")).ReplaceLineEndings("\n");

    private static string Repository()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Plugin.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException($"no Plugin.sln above {AppContext.BaseDirectory}");
    }

    [Fact]
    public void TheReadmeHasItsUsageExamples() =>
        Assert.True(CSharpBlock().Count(Readme()) >= 4, "the README's usage examples are gone; ReadmeTests compiles them");

    [Fact]
    public void EveryCSharpExampleOfTheReadmeCompilesWithoutWarnings()
    {
        var blocks = CSharpBlock().Matches(Readme()).Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(blocks);
        foreach (var (block, index) in blocks.Select((b, i) => (b, i + 1)))
        {
            var compilation = GeneratorHarness.Compilation(Given, block)
                .WithOptions(new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable, warningLevel: 9999));
            GeneratorHarness.Driver().RunGeneratorsAndUpdateCompilation(compilation, out var output, out var generatorProblems);
            Assert.Empty(generatorProblems);
            var problems = output.GetDiagnostics()
                .Where(d => d.Severity == DiagnosticSeverity.Error || (d.Severity == DiagnosticSeverity.Warning && d.Id != "CS1591"))
                .Select(d => d.ToString())
                .ToList();
            Assert.True(problems.Count == 0, $"README C# block {index} does not compile:\n{string.Join("\n", problems)}\n---\n{block}");
        }
    }
}
