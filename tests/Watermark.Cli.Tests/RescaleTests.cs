using System;
using System.Text.Json;
using Watermark.Formats;
using Xunit;

namespace Watermark.Cli.Tests;

[Collection(TrainedModelsGroup.Name)]
public class RescaleTests(TrainedModels models)
{
    [Fact]
    public void RescalingTheHostsInputChannelsKeepsTheFunctionAndMovesTheMark()
    {
        // conv1's outputs divided by α_d before the ReLU, conv2's input channels multiplied by α_d after it.
        var path = models.PathOf($"rescaled-{Guid.NewGuid():N}.dat");
        var run = CliRunner.Run("attack", "rescale", "--model", models.MarkedDat, "--param", "conv2.weight", "--divide", "conv1.weight:0", "--divide", "conv1.bias:0", "--range", "20", "--seed", "5", "--out", path);
        Assert.True(run.Code == 0, run.ToString());
        Assert.Contains("rescaled 16 channels by factors in [0.", run.Out, StringComparison.Ordinal);
        Assert.Contains("divided 'conv1.bias' (axis 0)", run.Out, StringComparison.Ordinal);

        Assert.True(TwoLayers.ComputeTheSame(models.MarkedDat, path), "the rescaled network computes another function");

        var host = ModelFile.Open(path);
        Assert.NotEqual(models.MarkedHost, host.ReadFloat32(host.Find("conv2.weight")));
        var verify = CliRunner.Run("verify", "--model", path, "--key", models.OwnerKey, "--json");
        var ber = JsonDocument.Parse(verify.Out).RootElement.GetProperty("ber").GetDouble();
        Assert.True(ber > 0, verify.ToString());
    }

    [Fact]
    public void RescalingWithoutDividingAnythingIsRefused()
    {
        var run = CliRunner.Run("attack", "rescale", "--model", models.MarkedDat, "--param", "conv2.weight", "--out", models.PathOf("never-rescaled.dat"));
        Assert.Equal(ExitCodes.Unusable, run.Code);
        Assert.Contains("rescale needs at least one --divide NAME:AXIS", run.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void ARangeBelowOneIsRefused()
    {
        var run = CliRunner.Run("attack", "rescale", "--model", models.MarkedDat, "--param", "conv2.weight", "--divide", "conv1.bias:0", "--range", "0.5", "--out", models.PathOf("never-rescaled.dat"));
        Assert.Equal(ExitCodes.Unusable, run.Code);
        Assert.Contains("--range must be a finite number ≥ 1", run.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void ATensorWithoutTheHostsChannelsIsRefused()
    {
        var run = CliRunner.Run("attack", "rescale", "--model", models.MarkedDat, "--param", "conv2.weight", "--divide", "conv1.weight:1", "--out", models.PathOf("never-rescaled.dat"));
        Assert.Equal(ExitCodes.Unusable, run.Code);
        Assert.Contains("'conv1.weight' of shape [16, 3, 3, 3] has no axis 1 of 16 channels to rescale with 'conv2.weight'", run.Err, StringComparison.Ordinal);
        Assert.False(System.IO.File.Exists(models.PathOf("never-rescaled.dat")));
    }
}
