using System;
using System.IO;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Testing;
using Xunit;
using static Watermark.Analyzers.Tests.Verifier;

namespace Watermark.Analyzers.Tests;

/// <summary>
/// Issue #16: the marks the generator cannot serve (WMK004 cases, WMK009–WMK011), [field: Watermark],
/// M left unknown by a non-constant groups, M decided by a construction (WMK012), and the help links.
/// </summary>
public class GeneratorRuleTests
{
    [Fact]
    public Task NamesTheGeneratorUsesAreAWarningSayingWhatHappensInstead() =>
        Analyze(
            Block("""
                [Watermark(Bits = 8)] private readonly Linear a = nn.Linear(16, 4);
                public int {|#0:WatermarkSlots|} => 1;
                public Tensor {|#1:WatermarkLoss|}(Keyring keyring) => zeros(1);
                """),
            new DiagnosticResult("WMK009", DiagnosticSeverity.Warning).WithLocation(0).WithArguments(
                "Block", "WatermarkSlots", "the generated one is implemented explicitly, as IWatermarkable.WatermarkSlots, so call it through IWatermarkable or WatermarkModules.GetWatermarkSlots(model, …)"),
            new DiagnosticResult("WMK009", DiagnosticSeverity.Warning).WithLocation(1).WithArguments(
                "Block", "WatermarkLoss", "the generated one is implemented explicitly, as IWatermarkable.WatermarkLoss, so call it through IWatermarkable or WatermarkModules.WatermarkLoss(model, …)"));

    [Fact]
    public Task AClashInheritedFromAnUnmarkedBaseIsReportedOnTheType() =>
        Analyze(
            """
            public class Plain : nn.Module<Tensor, Tensor>
            {
                protected Plain() : base("Plain") { }
                public override Tensor forward(Tensor x) => x;
                public string ExtractWatermark() => "mine";
            }
            public sealed partial class {|#0:Block|} : Plain
            {
                [Watermark(Bits = 8)] private readonly Linear a = nn.Linear(16, 4);
            }
            """,
            new DiagnosticResult("WMK009", DiagnosticSeverity.Warning).WithLocation(0).WithArguments(
                "Block", "ExtractWatermark", "the generated one is implemented explicitly, as IWatermarkable.ExtractWatermark, so call it through IWatermarkable or WatermarkModules.ExtractWatermark(model, …)"));

    [Fact]
    public Task AMemberWithTheReservedNameStopsGenerationForTheType() =>
        Analyze(
            Block(
                "[Watermark(Bits = 8)] private readonly Linear a = nn.Linear(16, 4); private static readonly int {|#1:GeneratedWatermarkDeclarations|} = 1;",
                declaration: "public sealed partial class {|#0:Block|}"),
            new DiagnosticResult("WMK009", DiagnosticSeverity.Warning).WithLocation(0).WithLocation(1).WithArguments(
                "Block", "GeneratedWatermarkDeclarations", "nothing is generated for 'Block'"));

    [Fact]
    public Task AFileLocalModuleIsAnError() =>
        Analyze(
            Block("[Watermark(Bits = 8)] private readonly Linear a = nn.Linear(16, 4);", declaration: "file sealed partial class {|#0:Block|}"),
            new DiagnosticResult("WMK010", DiagnosticSeverity.Error).WithLocation(0).WithArguments("Block"));

    [Fact]
    public Task OneMarkOnSeveralVariablesIsOneError() =>
        Analyze(
            Block("[{|#0:Watermark(Bits = 8)|}] private readonly Conv2d conv1 = nn.Conv2d(16, 16, 3), conv2 = nn.Conv2d(16, 16, 3);"),
            new DiagnosticResult("WMK011", DiagnosticSeverity.Error).WithLocation(0).WithArguments(2, "conv1, conv2"));

    [Fact]
    public Task PropertiesThatCannotBeReadAreUnsupported() =>
        Analyze(
            Block("""
                [{|#0:Watermark(Bits = 8)|}] public Linear SetOnly { set { } }
                [{|#1:Watermark(Bits = 8)|}] public Linear this[int i] => nn.Linear(16, 4);
                """),
            new DiagnosticResult("WMK004", DiagnosticSeverity.Error).WithLocation(0).WithArguments("Block.SetOnly", "it has no get accessor, so the layer cannot be read; add a getter or mark the field that holds the layer"),
            new DiagnosticResult("WMK004", DiagnosticSeverity.Error).WithLocation(1).WithArguments("Block.this[]", "it is an indexer"));

    [Fact]
    public Task AFieldTargetedMarkIsCheckedAsTheProperty() =>
        Analyze(
            Block("""
                [field: Watermark({|#0:Bits = 600|})] public Conv2d Host { get; } = nn.Conv2d(64, 64, 3);
                [field: Watermark(Bits = 8)] public Linear Head { get; }
                [{|#1:Watermark(Bits = 8)|}] [field: {|#2:Watermark(Bits = 4)|}] public Linear Twice { get; } = nn.Linear(16, 4);
                """,
                "Head = nn.Linear(32, 4);"),
            Diagnostic("WMK001").WithLocation(0).WithArguments(600, "Block.Host", 576L),
            new DiagnosticResult("WMK007", DiagnosticSeverity.Error).WithLocation(2).WithArguments("Block.Twice", "Block.Twice"));

    [Fact]
    public Task AGroupsArgumentThatIsNotConstantLeavesMUnknown() =>
        Analyze(
            """
            public sealed partial class Block : nn.Module<Tensor, Tensor>
            {
                [{|#0:Watermark(Bits = 16)|}] private readonly Conv2d depthwise;
                public Block(long groups) : base("Block") { depthwise = nn.Conv2d(64, 64, 3, groups: groups); RegisterComponents(); }
                public override Tensor forward(Tensor x) => x;
            }
            """,
            new DiagnosticResult("WMK002", DiagnosticSeverity.Info).WithLocation(0).WithArguments("Block.depthwise", "groups is not a compile-time constant"));

    [Fact]
    public Task AConstructionWhoseConstantsMakeMTooSmallIsAWarningThere() =>
        Analyze(
            """
            public partial class Block : nn.Module<Tensor, Tensor>
            {
                [{|#0:Watermark(Bits = 256)|}] private readonly Conv2d conv2;
                public Block(long channels) : base("Block") { conv2 = nn.Conv2d(channels, channels * 2, 3); RegisterComponents(); }
                public override Tensor forward(Tensor x) => x;
            }
            public sealed class Narrow : Block
            {
                public Narrow() {|#2:: base(8 * 2)|} { }
            }
            public sealed class Stages
            {
                private readonly Block first = {|#1:new Block(16)|};
                private readonly Block third = new Block(64);
                public Stages(long width) { _ = new Block(width); }
            }
            """,
            new DiagnosticResult("WMK002", DiagnosticSeverity.Info).WithLocation(0).WithArguments("Block.conv2", "in_channels is not a compile-time constant"),
            new DiagnosticResult("WMK012", DiagnosticSeverity.Warning).WithLocation(1).WithArguments(256, "Block.conv2", 144L),
            new DiagnosticResult("WMK012", DiagnosticSeverity.Warning).WithLocation(2).WithArguments(256, "Block.conv2", 144L));

    [Fact]
    public void EveryDiagnosticLinksToItsSectionOfTheDiagnosticsPage()
    {
        var page = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "diagnostics.md"));
        var descriptors = new WatermarkAnalyzer().SupportedDiagnostics;
        Assert.Equal(12, descriptors.Length);
        foreach (var descriptor in descriptors)
        {
            var anchor = "wmk" + descriptor.Id["WMK".Length..];
            Assert.Equal("https://github.com/watermark-torchsharp/watermark/blob/main/docs/diagnostics.md#" + anchor, descriptor.HelpLinkUri);
            Assert.Contains($"<a id=\"{anchor}\"></a>", page, StringComparison.Ordinal);
        }
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "docs", "diagnostics.md")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException("docs/diagnostics.md is not above " + AppContext.BaseDirectory);
    }
}
