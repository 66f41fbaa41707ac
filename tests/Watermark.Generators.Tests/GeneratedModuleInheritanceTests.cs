using System.CodeDom.Compiler;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Linq;
using System.Reflection;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Watermark.Generators.Tests;

/// <summary>Inheritance, defaults, [field: Watermark] and caching of what the generator produced, run for real.</summary>
[Collection(SequentialTorch.Name)]
public class GeneratedModuleInheritanceTests
{
    [Fact]
    public void ADerivedModuleKeepsItsBasesMarkBesideItsOwn()
    {
        using var net = new DerivedNet();
        // Slots come in state_dict order (TorchSharp registers the derived type's fields first); declarations base first.
        var slots = net.WatermarkSlots;
        Assert.Equal(["head.weight", "trunk.weight"], slots.Select(s => s.Parameter));
        Assert.Equal([("DerivedNet", "head", 4, KeyKind.Random), ("BaseNet", "trunk", 8, KeyKind.Direct)], slots.Select(s => (s.DeclaringType, s.Member, s.Bits, s.Kind)));
        Assert.Equal(["trunk", "head"], ((IWatermarkable)net).WatermarkDeclarations.Select(d => d.Member));

        // The base alone still has just its own; the loss and extraction reach both slots.
        using var alone = new BaseNet();
        Assert.Equal(["trunk.weight"], alone.WatermarkSlots.Select(s => s.Parameter));
        var keyring = new Keyring(slots[0].CreateKey(), slots[1].CreateKey());
        using var loss = net.WatermarkLoss(keyring);
        using var expected = EmbeddingLoss.Weighted(slots[0].Weight, keyring.Slots[0]) + EmbeddingLoss.Weighted(slots[1].Weight, keyring.Slots[1]);
        Assert.Equal(expected.item<float>(), loss.item<float>(), 5);
        Assert.Equal(["head.weight", "trunk.weight"], net.ExtractWatermark(keyring).Slots.Select(s => s.Parameter));
    }

    [Fact]
    public void UnsetKeyAndStrengthAreTheAttributesDefaults()
    {
        // The generator has no numbers of its own for them: it refers to WatermarkAttribute's constants.
        using var model = new Defaults();
        var plain = model.WatermarkSlots.Single(s => s.Member == "plain");
        var attribute = new WatermarkAttribute();
        Assert.Equal((attribute.Key, attribute.Strength), (plain.Kind, plain.Strength));
        Assert.Equal((WatermarkAttribute.DefaultKey, WatermarkAttribute.DefaultStrength), (attribute.Key, attribute.Strength));
    }

    [Fact]
    public void AFieldTargetedMarkOnAnAutoPropertyIsASlotNamedByItsBackingField()
    {
        // TorchSharp 0.107's RegisterComponents registers fields, so an auto-property's layer is registered
        // under its backing field's name, <Head>k__BackingField.
        using var model = new Defaults();
        var head = model.WatermarkSlots.Single(s => s.Member == "Head");
        Assert.Equal(("<Head>k__BackingField.weight", 4, KeyKind.Diff, 16), (head.Parameter, head.Bits, head.Kind, head.FilterMeanLength));
        Assert.Contains(head.Parameter, model.state_dict().Keys);
        Assert.Same(model.Head.weight, head.Weight);

        // [field: ComponentName(Name = "tail")] renames the registration, and so the slot.
        Assert.Equal("tail.weight", model.WatermarkSlots.Single(s => s.Member == "Tail").Parameter);
    }

    [Fact]
    public void DeclarationsAreMadeOncePerTypeAndSlotsOncePerModel()
    {
        using var first = new TinyNet();
        using var second = new TinyNet();
        Assert.Same(((IWatermarkable)first).WatermarkDeclarations, ((IWatermarkable)second).WatermarkDeclarations);
        Assert.Same(first.WatermarkSlots, first.WatermarkSlots);
        Assert.NotSame(first.WatermarkSlots, second.WatermarkSlots);
    }

    [Fact]
    public void CachedSlotsFollowNewWeightsAndANewTree()
    {
        using var net = new TinyNet();
        var before = net.WatermarkSlots;

        // .to(dtype) gives the layers new weight parameters: the cache must not hand out the old ones.
        net.to(ScalarType.Float64);
        var after = net.WatermarkSlots;
        Assert.NotSame(before, after);
        Assert.All(after, s => Assert.Same(net.named_parameters().Single(p => p.name == s.Parameter).parameter, s.Weight));
        Assert.Same(after, net.WatermarkSlots);

        // A marked block added to the tree is found.
        using var sequence = nn.Sequential(("first", new Block(8)));
        Assert.Equal(["first.conv2.weight"], sequence.GetWatermarkSlots().Select(s => s.Parameter));
        sequence.append("second", new Block(8));
        Assert.Equal(["first.conv2.weight", "second.conv2.weight"], sequence.GetWatermarkSlots().Select(s => s.Parameter));
    }

    [Fact]
    public void GeneratedMembersAreMarkedAsGeneratedAndNotUserCode()
    {
        foreach (var member in new MemberInfo[]
        {
            typeof(Block).GetProperty(nameof(Block.WatermarkSlots))!,
            typeof(Block).GetMethod(nameof(Block.WatermarkLoss))!,
            typeof(Block).GetMethod(nameof(Block.ExtractWatermark))!,
        })
        {
            Assert.Equal("Watermark.Generators", member.GetCustomAttribute<GeneratedCodeAttribute>()?.Tool);
            Assert.NotNull(member.GetCustomAttribute<DebuggerNonUserCodeAttribute>());
            Assert.NotNull(member.GetCustomAttribute<ExcludeFromCodeCoverageAttribute>());
        }
    }
}
