using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Testing;
using Xunit;
using static Watermark.Analyzers.Tests.Verifier;

namespace Watermark.Analyzers.Tests;

/// <summary>WMK003 to WMK008: what may carry [Watermark], and the code fix that adds 'partial'.</summary>
public class MarkTests
{
    [Fact]
    public Task ANonPartialModuleIsAnErrorNamingTheType() =>
        Analyze(
            Block("[Watermark(Bits = 256)] private readonly Conv2d conv2 = nn.Conv2d(64, 64, 3);", declaration: "public sealed class {|#0:Block|}"),
            new DiagnosticResult("WMK003", DiagnosticSeverity.Error).WithLocation(0).WithArguments("Block", "has"));

    [Fact]
    public Task ANonPartialContainingTypeIsAnErrorToo() =>
        Analyze(
            """
            public static class {|#0:Models|}
            {
                public sealed partial class Block : nn.Module<Tensor, Tensor>
                {
                    [Watermark(Bits = 256)] private readonly Conv2d conv2 = nn.Conv2d(64, 64, 3);
                    public Block() : base("Block") => RegisterComponents();
                    public override Tensor forward(Tensor x) => x;
                }
            }
            """,
            new DiagnosticResult("WMK003", DiagnosticSeverity.Error).WithLocation(0).WithArguments("Models", "contains a type with"));

    [Fact]
    public Task ANonPartialModuleWithoutMarksIsNotFlagged() =>
        Analyze("""
            public sealed class Plain : nn.Module<Tensor, Tensor>
            {
                private readonly Conv2d conv2 = nn.Conv2d(64, 64, 3);
                public Plain() : base("Plain") => RegisterComponents();
                public override Tensor forward(Tensor x) => x;
            }
            """);

    [Fact]
    public Task TheCodeFixAddsPartialAfterTheOtherModifiers() =>
        Fix(
            Block("[Watermark(Bits = 256)] private readonly Conv2d conv2 = nn.Conv2d(64, 64, 3);", declaration: "public sealed class {|WMK003:Block|}"),
            Block("[Watermark(Bits = 256)] private readonly Conv2d conv2 = nn.Conv2d(64, 64, 3);"));

    [Fact]
    public Task TheCodeFixKeepsCommentsWhenThereIsNoModifier() =>
        Fix(
            """
            // The block.
            class {|WMK003:Block|} : nn.Module<Tensor, Tensor>
            {
                [Watermark(Bits = 256)] private readonly Conv2d conv2 = nn.Conv2d(64, 64, 3);
                public Block() : base("Block") => RegisterComponents();
                public override Tensor forward(Tensor x) => x;
            }
            """,
            """
            // The block.
            partial class Block : nn.Module<Tensor, Tensor>
            {
                [Watermark(Bits = 256)] private readonly Conv2d conv2 = nn.Conv2d(64, 64, 3);
                public Block() : base("Block") => RegisterComponents();
                public override Tensor forward(Tensor x) => x;
            }
            """);

    [Fact]
    public Task UnsupportedMembersAreErrors() =>
        Analyze(
            Block("""
                [{|#0:Watermark(Bits = 8)|}] private readonly Dropout drop = nn.Dropout();
                [{|#1:Watermark(Bits = 8)|}] private static readonly Linear shared = nn.Linear(16, 4);
                [{|#2:Watermark(Bits = 8)|}] private readonly BatchNorm2d norm = nn.BatchNorm2d(16);
                [Watermark(Bits = 8)] private readonly Linear fine = nn.Linear(16, 4);
                """),
            new DiagnosticResult("WMK004", DiagnosticSeverity.Error).WithLocation(0).WithArguments("Block.drop", "its type is Dropout"),
            new DiagnosticResult("WMK004", DiagnosticSeverity.Error).WithLocation(1).WithArguments("Block.shared", "it is static"),
            new DiagnosticResult("WMK004", DiagnosticSeverity.Error).WithLocation(2).WithArguments("Block.norm", "its type is BatchNorm2d"));

    [Fact]
    public Task BitsMustBePositive() =>
        Analyze(
            Block("""
                [Watermark({|#0:Bits = 0|})] private readonly Linear zero = nn.Linear(16, 4);
                [Watermark({|#1:Bits = -3|})] private readonly Linear negative = nn.Linear(16, 4);
                [{|#2:Watermark(Key = KeyKind.Diff)|}] private readonly Linear unset = nn.Linear(16, 4);
                [Watermark(Bits = 1)] private readonly Linear one = nn.Linear(16, 4);
                """),
            new DiagnosticResult("WMK005", DiagnosticSeverity.Error).WithLocation(0).WithArguments("Block.zero", "0"),
            new DiagnosticResult("WMK005", DiagnosticSeverity.Error).WithLocation(1).WithArguments("Block.negative", "-3"),
            new DiagnosticResult("WMK005", DiagnosticSeverity.Error).WithLocation(2).WithArguments("Block.unset", "0 (not set)"));

    [Fact]
    public Task StrengthMustBePositive() =>
        Analyze(
            Block("""
                [Watermark(Bits = 8, {|#0:Strength = 0|})] private readonly Linear zero = nn.Linear(16, 4);
                [Watermark(Bits = 8, {|#1:Strength = -0.01|})] private readonly Linear negative = nn.Linear(16, 4);
                [Watermark(Bits = 8, {|#2:Strength = double.NaN|})] private readonly Linear nan = nn.Linear(16, 4);
                [Watermark(Bits = 8, Strength = 1e-4)] private readonly Linear small = nn.Linear(16, 4);
                """),
            new DiagnosticResult("WMK006", DiagnosticSeverity.Error).WithLocation(0).WithArguments("Block.zero", "0"),
            new DiagnosticResult("WMK006", DiagnosticSeverity.Error).WithLocation(1).WithArguments("Block.negative", "-0.01"),
            new DiagnosticResult("WMK006", DiagnosticSeverity.Error).WithLocation(2).WithArguments("Block.nan", "NaN"));

    [Fact]
    public Task TheSameLayerMarkedTwiceIsAnError() =>
        Analyze(
            """
            public sealed partial class Block : nn.Module<Tensor, Tensor>
            {
                [Watermark(Bits = 8)] private readonly Conv2d conv2;
                [{|#0:Watermark(Bits = 8)|}] private readonly Conv2d alias;
                [{|#1:Watermark(Bits = 8)|}] public Conv2d Host => conv2;
                [Watermark(Bits = 8)] private readonly Conv2d other;
                public Block() : base("Block")
                {
                    conv2 = nn.Conv2d(16, 16, 3);
                    alias = conv2;
                    other = nn.Conv2d(16, 16, 3);
                    RegisterComponents();
                }
                public override Tensor forward(Tensor x) => x;
            }
            """,
            new DiagnosticResult("WMK007", DiagnosticSeverity.Error).WithLocation(0).WithArguments("Block.alias", "Block.conv2"),
            new DiagnosticResult("WMK007", DiagnosticSeverity.Error).WithLocation(1).WithArguments("Block.Host", "Block.conv2"));

    [Fact]
    public Task MarksOutsideATorchModuleAreAnError() =>
        Analyze(
            """
            public sealed partial class {|#0:Holder|}
            {
                [Watermark(Bits = 8)] private readonly Linear layer = nn.Linear(16, 4);
                public Linear Layer => layer;
            }
            """,
            new DiagnosticResult("WMK008", DiagnosticSeverity.Error).WithLocation(0).WithArguments("Holder"));
}
