using System;
using System.Linq;
using TorchSharp;
using TorchSharp.Modules;
using Watermark.Attacks;
using Xunit;
using static TorchSharp.torch;

namespace Watermark.Tests;

[Collection(SequentialTorch.Name)]
public class AttackTests
{
    /// <summary>conv1 → bn2 → ReLU → conv2: the channels a pre-activation WRN block hands to its host.</summary>
    private sealed class PreActivation : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1;
        private readonly BatchNorm2d bn2;
        private readonly Conv2d conv2;

        public PreActivation()
            : base(nameof(PreActivation))
        {
            conv1 = nn.Conv2d(3, 16, 3, padding: 1);
            bn2 = nn.BatchNorm2d(16);
            conv2 = nn.Conv2d(16, 32, 3, padding: 1, bias: false);
            RegisterComponents();
        }

        public Conv2d Host => conv2;

        public override Tensor forward(Tensor input)
        {
            using var scope = NewDisposeScope();
            return conv2.forward(nn.functional.relu(bn2.forward(conv1.forward(input)))).MoveToOuterDisposeScope();
        }
    }

    private static readonly (string, int)[] Channels =
        [("conv1.weight", 0), ("conv1.bias", 0), ("bn2.weight", 0), ("bn2.bias", 0), ("bn2.running_mean", 0), ("bn2.running_var", 0), ("conv2.weight", 1)];

    // A marked block whose batch norm has non-trivial statistics, in evaluation mode.
    private static (PreActivation Model, WatermarkKey Key) Marked(int seed)
    {
        torch.manual_seed(seed);
        var model = new PreActivation();
        var key = TestSeeds.Key("conv2.weight", [32, 16, 3, 3], 64, seed);
        using var optimizer = optim.Adam(model.parameters(), 0.01);
        using var data = torch.randn(16, 3, 8, 8);
        for (var step = 0; step < 60; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            (model.forward(data).pow(2).mean() + EmbeddingLoss.Compute(model.Host.weight!, key)).backward();
            optimizer.step();
        }

        model.eval();
        Assert.Equal(0.0, key.Extract(model.Host.weight!).BitErrorRate);
        return (model, key);
    }

    [Fact]
    public void PermutingTheHostsInputChannelsKeepsTheFunctionButHidesTheMark()
    {
        var (model, key) = Marked(20);
        using var input = torch.randn(4, 3, 8, 8);
        using var before = model.forward(input).detach().clone();
        FunctionPreserving.PermuteChannels(model, Channels, ChannelPermutation.Random(16, seed: 3));
        using var after = model.forward(input).detach();
        Assert.True(before.allclose(after, rtol: 1e-4, atol: 1e-5), "the network's output changed");
        // The known blind spot of the filter mean (recorded, not hidden): the bits become coin flips.
        var result = new VerificationResult([key.Extract(model.Host.weight!)]);
        Assert.False(result.IsPresent, result.ToString());
        model.Dispose();
    }

    [Fact]
    public void PermutingTheHostsFiltersKeepsTheMark()
    {
        var (model, key) = Marked(21);
        FunctionPreserving.PermuteChannels(model, [("conv2.weight", 0)], ChannelPermutation.Random(32, seed: 4));
        Assert.Equal(0.0, key.Extract(model.Host.weight!).BitErrorRate);
        model.Dispose();
    }

    [Fact]
    public void RescalingThroughTheBatchNormKeepsTheFunctionAndMovesTheFilterMean()
    {
        var (model, key) = Marked(22);
        using var input = torch.randn(4, 3, 8, 8);
        using var before = model.forward(input).detach().clone();
        var factors = Enumerable.Range(0, 16).Select(i => i % 2 == 0 ? 20f : 0.05f).ToArray();
        FunctionPreserving.ScaleChannels(model, factors, multiply: [("conv2.weight", 1)], divide: [("bn2.weight", 0), ("bn2.bias", 0)]);
        using var after = model.forward(input).detach();
        Assert.True(before.allclose(after, rtol: 1e-3, atol: 1e-4), "the network's output changed");
        Assert.True(key.Extract(model.Host.weight!).BitErrorRate > 0.05);
        Assert.Throws<ArgumentException>(() => FunctionPreserving.ScaleChannels(model, [.. factors[..15], -1f], multiply: [("conv2.weight", 1)], divide: [("bn2.weight", 0)]));
        model.Dispose();
    }

    /// <summary>conv1 → bn1 → ReLU → conv2 (the host) → bn2 → ReLU: a post-activation block, whose bn2 absorbs the host's output transforms.</summary>
    private sealed class PostActivation : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1;
        private readonly BatchNorm2d bn1;
        private readonly Conv2d conv2;
        private readonly BatchNorm2d bn2;

        public PostActivation()
            : base(nameof(PostActivation))
        {
            conv1 = nn.Conv2d(3, 16, 3, padding: 1);
            bn1 = nn.BatchNorm2d(16);
            conv2 = nn.Conv2d(16, 32, 3, padding: 1);
            bn2 = nn.BatchNorm2d(32);
            RegisterComponents();
        }

        public Conv2d Host => conv2;

        public override Tensor forward(Tensor input)
        {
            using var scope = NewDisposeScope();
            return nn.functional.relu(bn2.forward(conv2.forward(nn.functional.relu(bn1.forward(conv1.forward(input)))))).MoveToOuterDisposeScope();
        }
    }

    [Fact]
    public void ScalingAndFlippingTheHostsFiltersThroughTheBatchNormKeepTheFunctionOnRealImages()
    {
        torch.manual_seed(25);
        using var model = new PostActivation();
        var key = TestSeeds.Key("conv2.weight", [32, 16, 3, 3], 64, 25);
        using var set = new CifarSubset("test.bin.gz", 48);
        using var images = torch.stack(Enumerable.Range(0, 48).Select(i => set.GetTensor(i)["data"]).ToArray());
        using (var optimizer = optim.Adam(model.parameters(), 0.01))
        {
            for (var step = 0; step < 30; step++)
            {
                using var scope = NewDisposeScope();
                optimizer.zero_grad();
                (model.forward(images[..32]).pow(2).mean() + EmbeddingLoss.Compute(model.Host.weight!, key)).backward();
                optimizer.step();
            }
        }

        using var test = images[32..];
        model.train();
        using var trainingBefore = model.forward(test).detach().clone();
        model.eval();
        using var before = model.forward(test).detach().clone();
        var factors = ChannelScaling.Random(32, 20, seed: 1);
        var applied = FunctionPreserving.ScaleOutputs(model, factors, ["conv2.weight", "conv2.bias"], "bn2");
        Assert.Equal(factors, applied);
        var flipped = SignFlip.Random(32, 0.5, seed: 2);
        FunctionPreserving.FlipOutputs(model, flipped, ["conv2.weight", "conv2.bias"], "bn2");
        using var after = model.forward(test).detach();
        Assert.True(before.allclose(after, rtol: 1e-4, atol: 1e-5), $"the network's output changed by {(before - after).abs().max().ToSingle()}");
        var flippedBits = key.Extract(model.Host.weight!).BitErrorRate;
        Assert.True(flippedBits > 0, "half the filters flipped and scaled, yet every bit reads the same");

        // In training mode the batch's own statistics scale with the filters, so the output stays too, up to ε.
        model.train();
        using var trainingAfter = model.forward(test).detach();
        Assert.True(trainingBefore.allclose(trainingAfter, rtol: 1e-2, atol: 1e-3), $"the training-mode output changed by {(trainingBefore - trainingAfter).abs().max().ToSingle()}");
        Assert.Throws<ArgumentException>(() => FunctionPreserving.FlipOutputs(model, new bool[31], ["conv2.weight"], "bn2"));
        Assert.Throws<WatermarkException>(() => FunctionPreserving.ScaleOutputs(model, factors, ["conv2.weight"], "bn9"));
    }

    [Fact]
    public void WeightAttacksMatchTheManagedMathTheCommandUses()
    {
        torch.manual_seed(23);
        using var weight = torch.randn(32, 16, 3, 3);
        var managed = weight.data<float>().ToArray();
        Assert.Equal(Pruning.Prune(managed, 0.65, PruningOrder.Ascending), weight.Prune(0.65));
        Assert.Equal(managed, weight.data<float>().ToArray());
        Assert.Equal(0.65, weight.eq(0).sum().ToInt64() / 4608.0, 3);

        var (model, key) = Marked(24);
        model.Host.weight!.Quantize(8, perChannel: true);
        Assert.Equal(0.0, key.Extract(model.Host.weight!).BitErrorRate);
        var sigma = model.Host.weight!.AddNoise(0.01, seed: 1);
        Assert.True(sigma > 0);
        Assert.True(key.Extract(model.Host.weight!).BitErrorRate < 0.1);
        model.Dispose();
    }
}
