using System.Collections.Generic;
using System.Linq;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace WideResNet.Model;

/// <summary>
/// The basic block of He et al. 2016's CIFAR ResNets, post-activation: conv-BN-ReLU, conv-BN, plus the
/// shortcut, then ReLU. When the shape changes the shortcut is option A: the input subsampled with
/// stride 2 and zero-padded with planes/4 channels on each side, no parameters (akamaster/pytorch_resnet_cifar10's
/// <c>LambdaLayer</c>). <c>inner</c>, when given, is the width between conv1 and conv2 (conv1's filters, bn1,
/// conv2's input channels): what a copy with dummy filters there has.
/// </summary>
public sealed class BasicBlock : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly Conv2d conv2;
    private readonly BatchNorm2d bn2;
    private readonly long stride;
    private readonly long padChannels;

    public BasicBlock(long input, long output, long stride, long? inner = null)
        : base(nameof(BasicBlock))
    {
        var width = inner ?? output;
        conv1 = nn.Conv2d(input, width, 3, stride: stride, padding: 1, bias: false);
        bn1 = nn.BatchNorm2d(width);
        conv2 = nn.Conv2d(width, output, 3, padding: 1, bias: false);
        bn2 = nn.BatchNorm2d(output);
        this.stride = stride;
        padChannels = stride != 1 || input != output ? (output - input) / 2 : 0;
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = nn.functional.relu(bn1.forward(conv1.forward(input)));
        x = bn2.forward(conv2.forward(x));
        var shortcut = stride == 1 && padChannels == 0
            ? input
            : nn.functional.pad(input[.., .., TensorIndex.Slice(null, null, stride), TensorIndex.Slice(null, null, stride)], [0, 0, 0, 0, padChannels, padChannels]);
        return nn.functional.relu(x + shortcut).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// CIFAR ResNet-(6n+2) of He et al. 2016 §4.2 (ResNet-20 with n = 3): conv1 (3×3, 16)-BN-ReLU, three
/// stages of n basic blocks with 16/32/64 filters at 32×32/16×16/8×8, option-A shortcuts, global average
/// pooling and a linear classifier; Kaiming-normal convs and linear weights. ResNet-20 has 269,722
/// parameters. State-dict names follow akamaster/pytorch_resnet_cifar10: <c>conv1</c>, <c>bn1</c>,
/// <c>layer1.0.conv1</c>, <c>layer1.0.bn1</c>, …, <c>layer3.2.bn2</c>, <c>linear</c>. <c>inner</c> gives blocks
/// (by name, e.g. <c>layer3.1</c>) another width between their two convs (<see cref="BasicBlock"/>).
/// </summary>
public sealed class ResNet20 : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly Sequential layer1;
    private readonly Sequential layer2;
    private readonly Sequential layer3;
    private readonly Linear linear;

    public ResNet20(int classes = 10, int blocksPerStage = 3, IReadOnlyDictionary<string, long>? inner = null)
        : base($"ResNet-{(6 * blocksPerStage) + 2}")
    {
        System.ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blocksPerStage);
        conv1 = nn.Conv2d(3, 16, 3, padding: 1, bias: false);
        bn1 = nn.BatchNorm2d(16);
        layer1 = Stage("layer1", 16, 16, blocksPerStage, 1, inner);
        layer2 = Stage("layer2", 16, 32, blocksPerStage, 2, inner);
        layer3 = Stage("layer3", 32, 64, blocksPerStage, 2, inner);
        linear = nn.Linear(64, classes);
        RegisterComponents();
        foreach (var (_, module) in named_modules())
        {
            if (module is Conv2d conv)
            {
                nn.init.kaiming_normal_(conv.weight!);
            }
            else if (module is Linear fc)
            {
                nn.init.kaiming_normal_(fc.weight!);
            }
        }
    }

    private static Sequential Stage(string name, long input, long output, int blocks, long stride, IReadOnlyDictionary<string, long>? inner) =>
        nn.Sequential(Enumerable.Range(0, blocks).Select(i => ($"{i}", (nn.Module<Tensor, Tensor>)new BasicBlock(i == 0 ? input : output, output, i == 0 ? stride : 1, inner is not null && inner.TryGetValue($"{name}.{i}", out var w) ? w : null))).ToArray());

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = nn.functional.relu(bn1.forward(conv1.forward(input)));
        x = layer3.forward(layer2.forward(layer1.forward(x)));
        x = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1);
        return linear.forward(x).MoveToOuterDisposeScope();
    }
}
