using System.Linq;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Watermark.Tests;

[Collection(SequentialTorch.Name)]
public class FilterMeanTests
{
    private static void AgreesWithManaged(Tensor weight, int m)
    {
        using var w = weight.FilterMean();
        Assert.Equal([m], w.shape);
        var managed = FilterMean.Compute(weight.detach().contiguous().data<float>().ToArray(), weight.shape);
        var fromTorch = w.detach().data<float>().ToArray();
        Assert.All(Enumerable.Range(0, m), i => Assert.Equal(managed[i], fromTorch[i], 5));
    }

    [Fact]
    public void Conv1dConv2dConv3dGroupedAndLinearGiveM()
    {
        torch.manual_seed(7);
        using var conv1 = nn.Conv1d(8, 16, 5);
        using var conv2 = nn.Conv2d(64, 64, 3);
        using var grouped = nn.Conv2d(64, 64, 3, groups: 4);
        using var conv3 = nn.Conv3d(4, 8, 3);
        using var linear = nn.Linear(256, 10);
        Assert.Equal([40], conv1.FilterMean().shape);
        Assert.Equal([576], conv2.FilterMean().shape);
        Assert.Equal([144], grouped.FilterMean().shape);
        Assert.Equal([108], conv3.FilterMean().shape);
        Assert.Equal([256], linear.FilterMean().shape);
        AgreesWithManaged(conv1.weight!, 40);
        AgreesWithManaged(conv2.weight!, 576);
        AgreesWithManaged(grouped.weight!, 144);
        AgreesWithManaged(conv3.weight!, 108);
        AgreesWithManaged(linear.weight!, 256);
    }

    [Fact]
    public void FilterOrderDoesNotMatter()
    {
        torch.manual_seed(8);
        using var conv = nn.Conv2d(16, 32, 3);
        var key = TestSeeds.Key("weight", [32, 16, 3, 3], 64, seed: 8);
        using var permuted = conv.weight!.detach()[torch.randperm(32)];
        Assert.Equal(key.Extract(conv.weight!).ExtractedBits.ToArray(), key.Extract(permuted).ExtractedBits.ToArray());
    }
}
