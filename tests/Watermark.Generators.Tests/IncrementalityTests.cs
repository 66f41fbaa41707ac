using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace Watermark.Generators.Tests;

/// <summary>The generator's tracked steps stay cached when an edit does not touch a mark.</summary>
public class IncrementalityTests
{
    private const string Marked = """
        using TorchSharp.Modules;
        using Watermark;
        using static TorchSharp.torch;
        namespace Demo;
        public sealed partial class Block : nn.Module<Tensor, Tensor>
        {
            [Watermark(Bits = 256)] private readonly Conv2d conv2 = nn.Conv2d(64, 64, 3);
            public Block() : base("Block") => RegisterComponents();
            public override Tensor forward(Tensor x) => conv2.forward(x);
        }
        """;

    private const string Unrelated = """
        namespace Demo;
        public static class Helpers
        {
            public static int Twice(int x) => 2 * x;
        }
        """;

    private static GeneratorDriverRunResult RunTwice(string secondUnrelated, out GeneratorDriverRunResult first)
    {
        var compilation = GeneratorHarness.Compilation(Marked, Unrelated);
        var driver = GeneratorHarness.Driver().RunGenerators(compilation);
        first = driver.GetRunResult();
        var oldTree = compilation.SyntaxTrees.Last();
        var edited = compilation.ReplaceSyntaxTree(oldTree, CSharpSyntaxTree.ParseText(secondUnrelated, GeneratorHarness.ParseOptions, oldTree.FilePath));
        return driver.RunGenerators(edited).GetRunResult();
    }

    [Fact]
    public void AnUnrelatedEditLeavesEveryTrackedStepCachedOrUnchanged()
    {
        var second = RunTwice(Unrelated.Replace("2 * x", "x + x", StringComparison.Ordinal), out var first);
        Assert.Single(first.GeneratedTrees);

        var steps = second.Results.Single().TrackedSteps;
        foreach (var name in new[] { TrackingNames.MarkedMembers, TrackingNames.MarkedTypes })
        {
            Assert.True(steps.ContainsKey(name), $"step {name} is not tracked");
            var reasons = steps[name].SelectMany(step => step.Outputs).Select(output => output.Reason).ToArray();
            Assert.NotEmpty(reasons);
            Assert.All(reasons, reason => Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{name}: {reason}"));
        }

        var outputs = second.Results.Single().TrackedOutputSteps.SelectMany(step => step.Value).SelectMany(step => step.Outputs);
        Assert.All(outputs, output => Assert.Equal(IncrementalStepRunReason.Cached, output.Reason));
    }

    [Theory]
    [InlineData("public override Tensor forward(Tensor x) => conv2.forward(x);", "public override Tensor forward(Tensor x) => conv2.forward(x).relu();")]
    [InlineData("public Block() : base(\"Block\") => RegisterComponents();", "// A comment.\n    public Block() : base(\"Block\") => RegisterComponents();\n    public int Width => 64;")]
    [InlineData("namespace Demo;", "namespace Demo;\npublic static class Extra { public static int Three => 3; }")]
    public void AnEditInTheMarkedFileThatLeavesTheMarksAloneKeepsEveryStepCached(string before, string after)
    {
        // The same file: the transform runs again, and its equatable model stops the change there.
        var compilation = GeneratorHarness.Compilation(Marked, Unrelated);
        var driver = GeneratorHarness.Driver().RunGenerators(compilation);
        var oldTree = compilation.SyntaxTrees.First();
        Assert.Contains(before, Marked, StringComparison.Ordinal);
        var edited = compilation.ReplaceSyntaxTree(oldTree, CSharpSyntaxTree.ParseText(Marked.Replace(before, after, StringComparison.Ordinal), GeneratorHarness.ParseOptions, oldTree.FilePath));
        var second = driver.RunGenerators(edited).GetRunResult();

        var steps = second.Results.Single().TrackedSteps;
        foreach (var name in new[] { TrackingNames.MarkedMembers, TrackingNames.MarkedTypes })
        {
            var reasons = steps[name].SelectMany(step => step.Outputs).Select(output => output.Reason).ToArray();
            Assert.NotEmpty(reasons);
            Assert.All(reasons, reason => Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{name}: {reason}"));
        }

        var outputs = second.Results.Single().TrackedOutputSteps.SelectMany(step => step.Value).SelectMany(step => step.Outputs);
        Assert.All(outputs, output => Assert.Equal(IncrementalStepRunReason.Cached, output.Reason));
    }

    [Fact]
    public void PipelineModelsHoldNoSymbolsSyntaxOrLocations()
    {
        // A symbol, node or location in a model would root a whole compilation and defeat caching.
        RunTwice(Unrelated, out var first);
        var steps = first.Results.Single().TrackedSteps;
        var values = new[] { TrackingNames.MarkedMembers, TrackingNames.MarkedTypes }
            .SelectMany(name => steps[name]).SelectMany(step => step.Outputs).Select(output => output.Value).ToArray();
        Assert.NotEmpty(values);
        foreach (var value in values)
        {
            AssertPlainData(value, value.GetType().Name, []);
        }
    }

    private static void AssertPlainData(object? value, string path, HashSet<object> seen)
    {
        if (value is null || value is string || value.GetType().IsPrimitive || value.GetType().IsEnum || !seen.Add(value))
        {
            return;
        }

        Assert.False(value is ISymbol or SyntaxNode or Location or Compilation or SemanticModel, $"{path} is a {value.GetType().Name}");
        if (value is IEnumerable items)
        {
            var i = 0;
            foreach (var item in items)
            {
                AssertPlainData(item, $"{path}[{i++}]", seen);
            }

            return;
        }

        foreach (var field in value.GetType().GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            AssertPlainData(field.GetValue(value), $"{path}.{field.Name}", seen);
        }
    }

    [Fact]
    public void ChangingAMarkRegeneratesTheFile()
    {
        var compilation = GeneratorHarness.Compilation(Marked, Unrelated);
        var driver = GeneratorHarness.Driver().RunGenerators(compilation);
        var oldTree = compilation.SyntaxTrees.First();
        var edited = compilation.ReplaceSyntaxTree(oldTree, CSharpSyntaxTree.ParseText(Marked.Replace("Bits = 256", "Bits = 128", StringComparison.Ordinal), GeneratorHarness.ParseOptions, oldTree.FilePath));
        var second = driver.RunGenerators(edited).GetRunResult();

        var reasons = second.Results.Single().TrackedSteps[TrackingNames.MarkedTypes].SelectMany(step => step.Outputs).Select(output => output.Reason);
        Assert.Contains(IncrementalStepRunReason.Modified, reasons);
        Assert.Contains(", 128, ", second.GeneratedTrees.Single().ToString(), StringComparison.Ordinal);
    }
}
