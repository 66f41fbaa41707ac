using System;
using System.Linq;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace Watermark.Tests;

[Collection(SequentialTorch.Name)]
public class VerificationTests
{
    private sealed class TwoLayers : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1;
        private readonly Conv2d conv2;

        public TwoLayers()
            : base(nameof(TwoLayers))
        {
            conv1 = nn.Conv2d(3, 16, 3, padding: 1);
            conv2 = nn.Conv2d(16, 32, 3, padding: 1);
            RegisterComponents();
        }

        public Conv2d Host => conv2;

        public override Tensor forward(Tensor input) => conv2.forward(conv1.forward(input));
    }

    private static void Embed(Parameter weight, WatermarkKey key, int steps = 100)
    {
        using var optimizer = optim.Adam([weight], 0.01);
        for (var step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            EmbeddingLoss.Compute(weight, key).backward();
            optimizer.step();
        }
    }

    [Fact]
    public void LayersThatNeverSawTheKeyAreNotFlagged()
    {
        torch.manual_seed(9);
        var bers = Enumerable.Range(0, 20).Select(i =>
        {
            using var conv = nn.Conv2d(64, 64, 3);
            var key = TestSeeds.Key("weight", [64, 64, 3, 3], 256, seed: 100 + i);
            var result = new VerificationResult([key.Extract(conv.weight!)]);
            Assert.False(result.IsPresent, result.ToString());
            Assert.True(result.PValue.Value > 1e-4, result.ToString());
            return result.BitErrorRate;
        }).ToArray();
        Assert.InRange(bers.Average(), 0.45, 0.55);
    }

    [Fact]
    public void AMarkedLayerIsNotFlaggedUnderAnotherKey()
    {
        torch.manual_seed(10);
        using var conv = nn.Conv2d(64, 64, 3);
        var owner = TestSeeds.Key("weight", [64, 64, 3, 3], 256, seed: 10);
        Embed(conv.weight!, owner);
        Assert.True(new VerificationResult([owner.Extract(conv.weight!)]).IsPresent);

        var stranger = TestSeeds.Key("weight", [64, 64, 3, 3], 256, seed: 11);
        var result = new VerificationResult([stranger.Extract(conv.weight!)]);
        Assert.False(result.IsPresent, result.ToString());
        Assert.InRange(result.BitErrorRate, 0.35, 0.65);
    }

    [Fact]
    public void WhiteningProtectsTheNullHypothesisFromBiasedWeights()
    {
        // All-positive weights: a direct key without whitening reads all ones — a false "present".
        using var weight = torch.rand(64, 64, 3, 3) + 0.01;
        var paper = TestSeeds.Key("weight", [64, 64, 3, 3], 256, seed: 12, KeyKind.Direct, Message.AllOnes);
        Assert.Equal(Whitening.None, paper.Whitening);
        Assert.True(new VerificationResult([paper.Extract(weight)]).IsPresent);

        var whitened = TestSeeds.Key("weight", [64, 64, 3, 3], 256, seed: 12, KeyKind.Direct, Message.AllOnes, Whitening.KeyedMask);
        var result = new VerificationResult([whitened.Extract(weight)]);
        Assert.False(result.IsPresent, result.ToString());
        Assert.InRange(result.BitErrorRate, 0.35, 0.65);
    }

    [Fact]
    public void KeyringVerifiesAModuleByStateDictName()
    {
        torch.manual_seed(13);
        using var model = new TwoLayers();
        var key = TestSeeds.Key("conv2.weight", [32, 16, 3, 3], 64, seed: 13);
        Embed(model.Host.weight!, key);
        var result = new Keyring(key).Verify(model);
        Assert.True(result.IsPresent, result.ToString());
        Assert.Equal("conv2.weight", result.Slots.Single().Parameter);
        Assert.Equal(0.0, result.BitErrorRate);
    }

    [Fact]
    public void WrongSlotIsNamedWithTheModelsWeights()
    {
        using var model = new TwoLayers();
        var key = TestSeeds.Key("conv3.weight", [32, 16, 3, 3], 64, seed: 14);
        var e = Assert.Throws<WatermarkException>(() => new Keyring(key).Verify(model));
        Assert.Contains("'conv3.weight'", e.Message, StringComparison.Ordinal);
        Assert.Contains("conv2.weight", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WrongShapeForTheSlotIsRefused()
    {
        using var model = new TwoLayers();
        var key = TestSeeds.Key("conv1.weight", [32, 16, 3, 3], 64, seed: 15);
        Assert.Contains("[16, 3, 3, 3]", Assert.Throws<WatermarkException>(() => new Keyring(key).Verify(model)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NaNOrInfWeightsAreRefused()
    {
        var key = TestSeeds.Key("weight", [8, 8, 3, 3], 16, seed: 16);
        using var weight = torch.randn(8, 8, 3, 3);
        weight[3, 2, 1, 0] = torch.tensor(float.NaN);
        Assert.Contains("NaN", Assert.Throws<WatermarkException>(() => key.Extract(weight)).Message, StringComparison.Ordinal);
        weight[3, 2, 1, 0] = torch.tensor(float.NegativeInfinity);
        Assert.Contains("infinite", Assert.Throws<WatermarkException>(() => key.Extract(weight)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void KeyFileRoundTripVerifiesTheSameModel()
    {
        torch.manual_seed(17);
        using var model = new TwoLayers();
        var key = WatermarkKey.Create("conv2.weight", [32, 16, 3, 3], 100, KeyKind.Random, Message.FromText("ACME"));
        Embed(model.Host.weight!, key);
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"wmk-{Guid.NewGuid():N}.json");
        try
        {
            new Keyring(key).Save(path);
            var result = Keyring.Load(path).Verify(model);
            Assert.True(result.IsPresent);
            Assert.Equal("ACME", System.Text.Encoding.UTF8.GetString(Message.Recover(result.Slots[0].MessageBits.AsSpan(), 4)));
        }
        finally
        {
            System.IO.File.Delete(path);
        }
    }
}
