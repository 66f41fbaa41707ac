using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp.Modules;
using Watermark;
using static TorchSharp.torch;

namespace WideResNet.Model;

/// <summary>
/// Pre-activation residual block (BN-ReLU-conv, twice). <c>conv2</c>, the block's second conv, is a
/// watermark slot (Uchida et al. §4.1): every block of every group has one, and the key file decides
/// which of them (e.g. <c>g2.block0.conv2</c>) carries a mark. The shortcut is a 1×1 conv when the shape changes.
/// <c>inner</c>, when given, is the width between conv1 and conv2 (conv1's filters, bn2, conv2's input channels):
/// what a copy widened by dummy neurons (NeuronClique/NeuronSplit) has there.
/// </summary>
public sealed partial class Block : nn.Module<Tensor, Tensor>
{
    private readonly BatchNorm2d bn1;
    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn2;
    [Watermark(Bits = 256, Key = KeyKind.Random)]
    private readonly Conv2d conv2;
    private readonly Conv2d? shortcut;

    public Block(long input, long output, long stride, long? inner = null)
        : base(nameof(Block))
    {
        var width = inner ?? output;
        bn1 = nn.BatchNorm2d(input);
        conv1 = nn.Conv2d(input, width, 3, stride: stride, padding: 1, bias: false);
        bn2 = nn.BatchNorm2d(width);
        conv2 = nn.Conv2d(width, output, 3, padding: 1, bias: false);
        shortcut = input != output || stride != 1 ? nn.Conv2d(input, output, 1, stride: stride, bias: false) : null;
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var activated = nn.functional.relu(bn1.forward(input));
        var residual = shortcut is null ? input : shortcut.forward(activated);
        var output = conv2.forward(nn.functional.relu(bn2.forward(conv1.forward(activated))));
        return (output + residual).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// WRN-(6N+4)-k (Zagoruyko &amp; Komodakis 2016) as in Uchida et al. Table 1: conv1 (3×3, 16), then groups
/// conv2/conv3/conv4 of N blocks with 16k/32k/64k filters at 32×32/16×16/8×8, then BN-ReLU, global
/// average pooling and a linear classifier. State-dict names: <c>g2.block0.conv2.weight</c> and so on.
/// <c>inner</c> gives blocks (by name, e.g. <c>g2.block0</c>) another width between their two convs (<see cref="Block"/>).
/// </summary>
public sealed class WideResNet : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv1;
    private readonly Sequential g2;
    private readonly Sequential g3;
    private readonly Sequential g4;
    private readonly BatchNorm2d bn;
    private readonly Linear fc;

    public WideResNet(int depth, int widen, int classes, IReadOnlyDictionary<string, long>? inner = null)
        : base($"WRN-{depth}-{widen}")
    {
        if (depth < 10 || (depth - 4) % 6 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(depth), depth, "A WRN depth is 6N + 4 with N ≥ 1 (10, 16, 22, 28, …).");
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(widen);
        var n = (depth - 4) / 6;
        Depth = depth;
        Widen = widen;
        conv1 = nn.Conv2d(3, 16, 3, padding: 1, bias: false);
        g2 = Group("g2", 16, 16 * widen, n, 1, inner);
        g3 = Group("g3", 16 * widen, 32 * widen, n, 2, inner);
        g4 = Group("g4", 32 * widen, 64 * widen, n, 2, inner);
        bn = nn.BatchNorm2d(64 * widen);
        fc = nn.Linear(64 * widen, classes);
        RegisterComponents();
        foreach (var (_, module) in named_modules())
        {
            if (module is Conv2d conv)
            {
                nn.init.kaiming_normal_(conv.weight!, mode: nn.init.FanInOut.FanIn, nonlinearity: nn.init.NonlinearityType.ReLU);
            }
        }
    }

    public int Depth { get; }

    public int Widen { get; }

    /// <summary>The state_dict name of the second conv's weight in block 0 of group 2, 3 or 4.</summary>
    public static string HostParameter(int group) => group is >= 2 and <= 4
        ? $"g{group}.block0.conv2.weight"
        : throw new ArgumentOutOfRangeException(nameof(group), group, "The watermark goes into group conv2, conv3 or conv4 (2, 3 or 4).");

    private static Sequential Group(string name, long input, long output, int blocks, long stride, IReadOnlyDictionary<string, long>? inner) =>
        nn.Sequential(Enumerable.Range(0, blocks).Select(i => ($"block{i}", (nn.Module<Tensor, Tensor>)new Block(i == 0 ? input : output, output, i == 0 ? stride : 1, inner is not null && inner.TryGetValue($"{name}.block{i}", out var w) ? w : null))).ToArray());

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = g4.forward(g3.forward(g2.forward(conv1.forward(input))));
        x = nn.functional.relu(bn.forward(x));
        x = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1);
        return fc.forward(x).MoveToOuterDisposeScope();
    }
}
