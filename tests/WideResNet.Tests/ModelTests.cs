using System;
using System.Linq;
using Watermark;
using WideResNet.Experiments;
using Xunit;
using static TorchSharp.torch;

namespace WideResNet.Tests;

[Collection(SequentialTorch.Name)]
public sealed class ModelTests
{
    // The paper's Table 1 widths (16k/32k/64k): M = 9 · width of the host, so the cpu preset's WRN-10-2
    // halves the paper's M = 576/1,152/2,304 (method.md §6; the capacity notes of table6 depend on it).
    [Theory]
    [InlineData(2, 2, 288)]
    [InlineData(2, 3, 576)]
    [InlineData(2, 4, 1152)]
    [InlineData(4, 2, 576)]
    [InlineData(4, 3, 1152)]
    [InlineData(4, 4, 2304)]
    public void HostOfEachGroupHasThePapersFilterMeanLength(int widen, int group, int m)
    {
        using var model = new Model.WideResNet(10, widen, 10);
        var host = model.get_parameter(Model.WideResNet.HostParameter(group));
        Assert.NotNull(host);
        Assert.Equal(m, Capacity.FilterMeanLength(host!.shape));
    }

    [Fact]
    public void ExperimentKeysFitTheirHostAndRepeat()
    {
        var runner = new Runner(new Settings(Preset.Cpu, null, "unused", 1, null, null, 2, "cpu"));
        using var model = new Model.WideResNet(Preset.Cpu.Depth, Preset.Cpu.Widen, 10);
        foreach (var group in new[] { 2, 3, 4 })
        {
            var spec = new RunSpec($"g{group}", 1, "cifar10", Embed: true, Group: group);
            var key = runner.KeyFor(spec);
            Assert.Equal(model.get_parameter(key.Parameter)!.shape, key.Shape.ToArray());
            Assert.Equal(key.ProjectionMatrix().ToArray(), runner.KeyFor(spec).ProjectionMatrix().ToArray());
            Assert.NotEqual(key.ProjectionMatrix().ToArray(), runner.KeyFor(spec with { KeySeed = 2 }).ProjectionMatrix().ToArray());
        }
    }

    [Fact]
    public void ClassifiesABatchIntoItsClasses()
    {
        using var model = new Model.WideResNet(10, 1, 101);
        model.eval();
        using var input = randn(3, 3, 32, 32);
        using var output = model.forward(input);
        Assert.Equal([3L, 101L], output.shape);
    }

    [Fact]
    public void RejectsADepthThatIsNotSixNPlusFour()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Model.WideResNet(12, 2, 10));
        Assert.Contains("6N + 4", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => Model.WideResNet.HostParameter(5));
    }
}
