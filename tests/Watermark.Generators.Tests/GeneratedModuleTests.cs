using System;
using System.Linq;
using TorchSharp;
using TorchSharp.Modules;
using Xunit;
using static TorchSharp.torch;

namespace Watermark.Generators.Tests;

/// <summary>What the generator produced for <see cref="Block"/>, <see cref="TinyNet"/> and <see cref="Outer{TTag}.Inner"/>, run for real.</summary>
[Collection(SequentialTorch.Name)]
public partial class GeneratedModuleTests
{
    private static SecretSeed Seed(int n) => SecretSeed.FromBytes(Enumerable.Range(0, 32).Select(i => (byte)((i * 11) + (n * 29) + 3)).ToArray());

    private static WatermarkKey Key(WatermarkSlot slot, int seed) =>
        WatermarkKey.Create(slot.Parameter, slot.Shape, slot.Bits, slot.Kind, Message.FromText("W"), slot.Strength, whitening: null, allowOverCapacity: false, Seed(seed));

    [Fact]
    public void SlotsOfNestedModulesAreNamedByTheirStateDictPath()
    {
        using var net = new TinyNet();
        var slots = net.WatermarkSlots;
        Assert.Equal(["block0.conv2.weight", "block1.conv2.weight", "head.weight"], slots.Select(s => s.Parameter));
        Assert.All(slots, s => Assert.Contains(s.Parameter, net.state_dict().Keys));

        var conv = slots[1];
        Assert.Equal(("Block", "conv2", 64, KeyKind.Random, 0.01), (conv.DeclaringType, conv.Member, conv.Bits, conv.Kind, conv.Strength));
        Assert.Equal([16L, 16, 3, 3], conv.Shape.ToArray());
        Assert.Equal(144, conv.FilterMeanLength);
        Assert.Same(net.Second.Host.weight, conv.Weight);

        var head = slots[2];
        Assert.Equal(("TinyNet", "head", 8, KeyKind.Diff, 0.05, 16), (head.DeclaringType, head.Member, head.Bits, head.Kind, head.Strength, head.FilterMeanLength));

        // A block on its own names its slot relative to itself.
        Assert.Equal("conv2.weight", Assert.Single(net.Second.WatermarkSlots).Parameter);
    }

    [Fact]
    public void AnUnmarkedRootFindsTheMarkedBlocksInside()
    {
        // The usual shape: a network that marks nothing itself, built from marked blocks.
        torch.manual_seed(24);
        using var network = nn.Sequential(("g1", new Block(8)), ("g2", new Block(8)));
        Assert.False(network is IWatermarkable);
        var slots = network.GetWatermarkSlots();
        Assert.Equal(["g1.conv2.weight", "g2.conv2.weight"], slots.Select(s => s.Parameter));

        var key = Key(slots[1], 5);
        var keyring = new Keyring(key);
        Assert.Equal(EmbeddingLoss.Weighted(slots[1].Weight, key).item<float>(), network.WatermarkLoss(keyring).item<float>());
        Assert.Equal("g2.conv2.weight", Assert.Single(network.ExtractWatermark(keyring).Slots).Parameter);
    }

    [Fact]
    public void APropertyOfANestedGenericTypeIsASlot()
    {
        using var inner = new Outer<int>.Inner();
        var slot = Assert.Single(inner.WatermarkSlots);
        Assert.Equal(("Layer", 16, KeyKind.Direct, 32), (slot.Member, slot.Bits, slot.Kind, slot.FilterMeanLength));
        Assert.Contains(slot.Parameter, inner.state_dict().Keys);
    }

    [Fact]
    public void TheFilterMeanOfASlotIsItsLayers()
    {
        torch.manual_seed(21);
        using var net = new TinyNet();
        var slot = net.WatermarkSlots[0];
        using var expected = ((Conv2d)net.named_modules().Single(m => m.name == "block0.conv2").module).FilterMean();
        Assert.True(expected.allclose(slot.FilterMean()));
        Assert.Equal([144L], slot.FilterMean().shape);
    }

    [Fact]
    public void GeneratedWatermarkLossEqualsTheDirectComputation()
    {
        torch.manual_seed(22);
        using var net = new TinyNet();
        var slots = net.WatermarkSlots;
        var convKey = Key(slots[1], 1);
        var headKey = Key(slots[2], 2);
        var keyring = new Keyring(convKey, headKey);

        using var generated = net.WatermarkLoss(keyring);
        using var direct = EmbeddingLoss.Weighted(net.Second.Host.weight!, convKey) + EmbeddingLoss.Weighted(slots[2].Weight, headKey);
        Assert.Equal(direct.item<float>(), generated.item<float>(), 6);
        Assert.Equal(0.05 * EmbeddingLoss.Compute(slots[2].Weight, headKey).item<float>(), net.WatermarkLoss(new Keyring(headKey)).item<float>(), 6);

        // Only activated slots contribute, and the loss reaches their weights only.
        generated.backward();
        Assert.NotNull(net.Second.Host.weight!.grad);
        Assert.Null(((Conv2d)net.named_modules().Single(m => m.name == "block0.conv2").module).weight!.grad);
    }

    [Fact]
    public void TrainingWithTheGeneratedLossEmbedsAndExtractsTheMark()
    {
        torch.manual_seed(23);
        using var net = new TinyNet();
        var slots = net.WatermarkSlots;
        var keyring = new Keyring(Key(slots[1], 3), Key(slots[2], 4));
        using var images = torch.randn(16, 3, 8, 8);
        using var labels = torch.randint(0, 4, [16]);
        Assert.True(net.ExtractWatermark(keyring).BitErrorRate > 0.1);

        using var optimizer = optim.Adam(net.parameters(), 0.01);
        for (var step = 0; step < 200; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(net.forward(images), labels) + net.WatermarkLoss(keyring);
            loss.backward();
            optimizer.step();
        }

        var result = net.ExtractWatermark(keyring);
        Assert.Equal(0.0, result.BitErrorRate);
        Assert.Equal(["block1.conv2.weight", "head.weight"], result.Slots.Select(s => s.Parameter));
        Assert.Equal([64, 8], result.Slots.Select(s => s.Matched));
        Assert.True(result.IsPresent, result.ToString());
        Assert.Equal(result.Matched, keyring.Verify(net).Matched);
    }

    [Fact]
    public void WatermarkLossFollowsTheModelWhenItsWeightsAreReplaced()
    {
        torch.manual_seed(29);
        using var net = new TinyNet();
        var keyring = new Keyring(Key(net.WatermarkSlots[1], 3));
        using var first = net.WatermarkLoss(keyring);
        using var again = net.WatermarkLoss(keyring);
        Assert.Equal(first.item<float>(), again.item<float>());

        // .to(dtype) gives the module new parameter tensors: the cached binding must not hold the old ones.
        net.to(ScalarType.Float64);
        using var converted = net.WatermarkLoss(keyring);
        Assert.Equal(ScalarType.Float64, converted.dtype);
        var weight = net.named_parameters().Single(p => p.name == "block1.conv2.weight").parameter;
        using var expected = EmbeddingLoss.Weighted(weight, keyring.Slots[0]);
        Assert.Equal(expected.item<double>(), converted.item<double>(), 10);
    }

    [Fact]
    public void CreateKeyAppliesTheCapacityRuleWithTheAnalyzersWording()
    {
        using var model = new OverCapacity();
        var slot = Assert.Single(model.WatermarkSlots);
        Assert.False(slot.Fits);
        var e = Assert.Throws<ArgumentException>(() => slot.CreateKey());
        Assert.StartsWith(Capacity.Describe("conv.weight", 200, 144), e.Message, StringComparison.Ordinal);
        Assert.Equal(200, slot.CreateKey(allowOverCapacity: true).Bits);

        using var net = new TinyNet();
        var key = net.WatermarkSlots[0].CreateKey(Message.FromText("ACME"));
        Assert.Equal(("block0.conv2.weight", 64, 144, KeyKind.Random, 0.01), (key.Parameter, key.Bits, key.FilterMeanLength, key.Kind, key.Strength));
    }

    [Fact]
    public void AKeyForAnotherModelIsRefusedNamingTheSlots()
    {
        using var net = new TinyNet();
        var stranger = WatermarkKey.Create("block2.conv2.weight", [16, 16, 3, 3], 16);
        var e = Assert.Throws<WatermarkException>(() => net.WatermarkLoss(new Keyring(stranger)));
        Assert.Contains("'block2.conv2.weight'", e.Message, StringComparison.Ordinal);
        Assert.Contains("'block0.conv2.weight'", e.Message, StringComparison.Ordinal);
        Assert.Contains("slot.CreateKey", Assert.Throws<WatermarkException>(() => net.ExtractWatermark(new Keyring())).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnregisteredOrMissingLayersAreNamedWithTheFix()
    {
        using var unregistered = new Unregistered(create: true);
        var e = Assert.Throws<WatermarkException>(() => unregistered.WatermarkSlots);
        Assert.Contains("Unregistered.conv", e.Message, StringComparison.Ordinal);
        Assert.Contains("RegisterComponents()", e.Message, StringComparison.Ordinal);

        using var missing = new Unregistered(create: false);
        Assert.Contains("is null", Assert.Throws<WatermarkException>(() => missing.WatermarkSlots).Message, StringComparison.Ordinal);

        using var plain = nn.Linear(4, 4);
        Assert.Contains("no [Watermark] layer", Assert.Throws<WatermarkException>(() => plain.ExtractWatermark(new Keyring())).Message, StringComparison.Ordinal);
    }

    public sealed partial class OverCapacity : nn.Module<Tensor, Tensor>
    {
        [Watermark(Bits = 200)]
        private readonly Conv2d conv = nn.Conv2d(16, 16, 3);

        public OverCapacity()
            : base(nameof(OverCapacity)) => RegisterComponents();

        public override Tensor forward(Tensor input) => conv.forward(input);
    }

    public sealed partial class Unregistered : nn.Module<Tensor, Tensor>
    {
        [Watermark(Bits = 8)]
        private readonly Linear? conv;

        public Unregistered(bool create)
            : base(nameof(Unregistered)) => conv = create ? nn.Linear(16, 4) : null;

        public override Tensor forward(Tensor input) => conv!.forward(input);
    }
}
