using System;
using Watermark.Formats;
using Xunit;

namespace Watermark.Cli.Tests;

[Collection(TrainedModelsGroup.Name)]
public class PermutationTests(TrainedModels models)
{
    [Fact]
    public void ReorderingTheHostsFiltersKeepsTheMark()
    {
        // The filter mean averages over axis 0, so the order of filters cannot matter (Uchida et al. §3.1).
        var path = models.PathOf($"filters-{Guid.NewGuid():N}.dat");
        var run = CliRunner.Run("attack", "permute", "--model", models.MarkedDat, "--param", "conv2.weight", "--also", "conv2.bias:0", "--seed", "5", "--out", path);
        Assert.True(run.Code == 0, run.ToString());
        Assert.NotEqual(models.MarkedHost, ModelFile.Open(path).ReadFloat32(ModelFile.Open(path).Find("conv2.weight")));
        Assert.Equal(ExitCodes.Present, CliRunner.Run("verify", "--model", path, "--key", models.OwnerKey).Code);
    }

    [Fact]
    public void ReorderingTheHostsInputChannelsKeepsTheFunctionButHidesTheMark()
    {
        // conv1's outputs and conv2's inputs reordered together: the same network, a permuted filter mean.
        var path = models.PathOf($"channels-{Guid.NewGuid():N}.dat");
        var run = CliRunner.Run("attack", "permute", "--model", models.MarkedDat, "--param", "conv1.weight", "--also", "conv1.bias:0", "--also", "conv2.weight:1", "--seed", "5", "--out", path);
        Assert.True(run.Code == 0, run.ToString());
        Assert.Contains("reordered 16 channels", run.Out, StringComparison.Ordinal);

        Assert.True(TwoLayers.ComputeTheSame(models.MarkedDat, path), "the permuted network computes another function");

        var verify = CliRunner.Run("verify", "--model", path, "--key", models.OwnerKey);
        Assert.True(verify.Code == ExitCodes.Absent, verify.ToString());
    }

    [Fact]
    public void TensorsWithoutAMatchingAxisAreRefused()
    {
        var run = CliRunner.Run("attack", "permute", "--model", models.MarkedDat, "--param", "conv1.weight", "--also", "conv2.weight:0", "--out", models.PathOf("never-permuted.dat"));
        Assert.Equal(ExitCodes.Unusable, run.Code);
        Assert.Contains("'conv2.weight'", run.Err, StringComparison.Ordinal);
        Assert.Contains("16 channels", run.Err, StringComparison.Ordinal);
    }
}
