using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Watermark.Tests;

/// <summary>A small real CNN for fast training tests; <c>conv2.weight</c> [32, 16, 3, 3] (M = 144) hosts the mark.</summary>
internal sealed class TinyNet : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv1;
    private readonly Conv2d conv2;
    private readonly Linear fc;

    public TinyNet(int classes = 10)
        : base(nameof(TinyNet))
    {
        conv1 = nn.Conv2d(3, 16, 3, padding: 1);
        conv2 = nn.Conv2d(16, 32, 3, padding: 1);
        fc = nn.Linear(32, classes);
        RegisterComponents();
    }

    public static long[] HostShape => [32, 16, 3, 3];

    public Conv2d Host => conv2;

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = nn.functional.max_pool2d(nn.functional.relu(conv1.forward(input)), 2);
        x = nn.functional.relu(conv2.forward(x));
        return fc.forward(nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)).MoveToOuterDisposeScope();
    }
}
