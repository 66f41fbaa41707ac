using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Testing;
using Xunit;
using static Watermark.Analyzers.Tests.Verifier;

namespace Watermark.Analyzers.Tests;

/// <summary>WMK001 (T ≥ M at compile time) and WMK002 (M unknown until run time).</summary>
public class CapacityTests
{
    [Fact]
    public Task TheIssuesOversizedMarkIsAWarningWithTheRuntimesWords() =>
        Analyze(
            Block("[Watermark({|#0:Bits = 600|})] private readonly Conv2d conv2 = nn.Conv2d(64, 64, 3);"),
            Diagnostic("WMK001").WithLocation(0).WithArguments(600, "Block.conv2", 576L));

    [Fact]
    public Task TheMessageIsCapacityDescribeWordForWord() =>
        Analyze(
            Block("[Watermark({|#0:Bits = 600|})] private readonly Conv2d conv2 = nn.Conv2d(64, 64, 3);"),
            Diagnostic("WMK001").WithLocation(0).WithMessage(Capacity.Describe("Block.conv2", 600, 576)));

    [Fact]
    public Task AMarkThatFitsIsSilent() =>
        Analyze(Block("[Watermark(Bits = 256, Key = KeyKind.Random)] private readonly Conv2d conv2 = nn.Conv2d(64, 64, 3);"));

    [Fact]
    public Task TIsBelowMOrAWarningExactlyAtM() =>
        Analyze(Block("""
            [Watermark(Bits = 575)] private readonly Conv2d below = nn.Conv2d(64, 64, 3);
            [Watermark({|WMK001:Bits = 576|})] private readonly Conv2d at = nn.Conv2d(64, 64, 3);
            """));

    [Fact]
    public Task ConstantsConstExpressionsAndNamedArgumentsCount() =>
        Analyze(Block("""
            private const int Width = 16;
            private const long Kernel = 3;
            [Watermark({|WMK001:Bits = 144|})] private readonly Conv2d a = nn.Conv2d(Width, Width * 4, Kernel);
            [Watermark({|WMK001:Bits = 288|})] private readonly Conv2d b = TorchSharp.torch.nn.Conv2d(out_channels: 8, kernel_size: Kernel, in_channels: Width * 2, padding: 1);
            [Watermark(Bits = 143)] private readonly Conv2d c = nn.Conv2d(Width, 64, Kernel);
            """));

    [Fact]
    public Task TupleKernelsAndGroupsCount() =>
        Analyze(Block("""
            [Watermark({|WMK001:Bits = 144|})] private readonly Conv2d grouped = nn.Conv2d(64, 64, 3, groups: 4);
            [Watermark({|WMK001:Bits = 960|})] private readonly Conv2d wide = nn.Conv2d(64, 64, kernel_size: (3, 5));
            [Watermark({|WMK001:Bits = 108|})] private readonly Conv3d cube = nn.Conv3d(4, 8, (3L, 3L, 3L));
            [Watermark({|WMK001:Bits = 40|})] private readonly Conv1d line = nn.Conv1d(8, 16, 5);
            [Watermark({|WMK001:Bits = 256|})] private readonly Linear head = nn.Linear(256, 10);
            [Watermark(Bits = 143)] private readonly Conv2d groupedFits = nn.Conv2d(64, 64, (3, 3), groups: 4);
            """));

    [Fact]
    public Task LayersCreatedInTheConstructorAreCheckedToo() =>
        Analyze(Block(
            """
            [Watermark({|WMK001:Bits = 600|})] private readonly Conv2d conv2;
            [Watermark({|WMK001:Bits = 64|})] public Linear Head { get; }
            """,
            "conv2 = nn.Conv2d(64, 64, 3); this.Head = nn.Linear(32, 2);"));

    [Fact]
    public Task FactoriesImportedWithUsingStaticAreRecognised() =>
        Analyze("""
            namespace Demo
            {
                using static TorchSharp.torch.nn;

                public sealed partial class Block : Module<Tensor, Tensor>
                {
                    [Watermark({|WMK001:Bits = 600|})] private readonly Conv2d conv2 = Conv2d(64, 64, 3);
                    public Block() : base("Block") => RegisterComponents();
                    public override Tensor forward(Tensor x) => x;
                }
            }
            """);

    [Fact]
    public Task UnknownMIsAnInfoNamingWhy() =>
        Analyze(
            """
            public sealed partial class Block : nn.Module<Tensor, Tensor>
            {
                [{|#0:Watermark(Bits = 600)|}] private readonly Conv2d conv2;
                [{|#1:Watermark(Bits = 600)|}] private readonly Conv2d made;
                [{|#2:Watermark(Bits = 600)|}] private readonly Conv2d never = null!;
                [{|#3:Watermark(Bits = 8)|}] private readonly Linear tied = nn.Linear(new Parameter(zeros(4, 16)), null);
                [{|#4:Watermark(Bits = 8)|}] private readonly Linear sized = nn.Linear(16 * Width(), 4);
                public Block(long channels) : base("Block")
                {
                    conv2 = nn.Conv2d(channels, 64, 3);
                    made = Make();
                    RegisterComponents();
                }
                private static Conv2d Make() => nn.Conv2d(64, 64, 3);
                private static int Width() => 4;
                public override Tensor forward(Tensor x) => x;
            }
            """,
            new DiagnosticResult("WMK002", DiagnosticSeverity.Info).WithLocation(0).WithArguments("Block.conv2", "in_channels is not a compile-time constant"),
            new DiagnosticResult("WMK002", DiagnosticSeverity.Info).WithLocation(1).WithArguments("Block.made", "the layer is not created by a torch.nn factory call here"),
            new DiagnosticResult("WMK002", DiagnosticSeverity.Info).WithLocation(2).WithArguments("Block.never", "the layer is not created by a torch.nn factory call here"),
            new DiagnosticResult("WMK002", DiagnosticSeverity.Info).WithLocation(3).WithArguments("Block.tied", "the layer is built from existing weights"),
            new DiagnosticResult("WMK002", DiagnosticSeverity.Info).WithLocation(4).WithArguments("Block.sized", "the input size is not a compile-time constant"));
}
