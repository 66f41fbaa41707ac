using System;
using System.IO;
using System.Linq;
using Xunit;

namespace Watermark.Cli.Tests;

[Collection(TrainedModelsGroup.Name)]
public class KeygenTests(TrainedModels models)
{
    [Fact]
    public void RepeatedParamsMakeOneSlotEachWithShapesFromTheModel()
    {
        var key = models.PathOf($"two-{Guid.NewGuid():N}.json");
        var run = CliRunner.Run("keygen", "--model", models.MarkedOnnx, "--param", "conv1.weight", "--param", "conv2.weight", "--bits", "16", "--message", "Z", "--out", key);
        Assert.True(run.Code == 0, run.ToString());
        var keyring = Keyring.Load(key);
        Assert.Equal(["conv1.weight", "conv2.weight"], keyring.Slots.Select(s => s.Parameter));
        Assert.Equal([16L, 3, 3, 3], keyring.Slots[0].Shape.ToArray());
        Assert.Equal([32L, 16, 3, 3], keyring.Slots[1].Shape.ToArray());
        Assert.Equal(Whitening.KeyedMask, keyring.Slots[0].Whitening);
        var seeds = System.Text.Json.JsonDocument.Parse(File.ReadAllText(key)).RootElement.GetProperty("slots").EnumerateArray().Select(s => s.GetProperty("seed").GetString()).ToList();
        Assert.Equal(2, seeds.Distinct().Count());
    }

    [Fact]
    public void AppendAddsSlotsAndTheCombinedVerdictCountsThemAll()
    {
        var key = models.PathOf($"appended-{Guid.NewGuid():N}.json");
        File.Copy(models.OwnerKey, key);
        var refused = CliRunner.Run("keygen", "--shape", "16,3,3,3", "--param", "conv1.weight", "--bits", "16", "--out", key);
        Assert.Equal(ExitCodes.Unusable, refused.Code);
        Assert.Contains("--append", refused.Err, StringComparison.Ordinal);

        var run = CliRunner.Run("keygen", "--shape", "16,3,3,3", "--param", "conv1.weight", "--bits", "16", "--out", key, "--append");
        Assert.True(run.Code == 0, run.ToString());
        Assert.Equal(2, Keyring.Load(key).Slots.Length);

        var verify = CliRunner.Run("verify", "--model", models.MarkedDat, "--key", key, "--json");
        Assert.True(verify.Code == ExitCodes.Present, verify.ToString());
        Assert.Contains("\"bits\": 80", verify.Out, StringComparison.Ordinal);
        Assert.Contains("conv1.weight", verify.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void TheSeedIsNeverPrinted()
    {
        var key = models.PathOf($"secret-{Guid.NewGuid():N}.json");
        var run = CliRunner.Run("keygen", "--shape", "32,16,3,3", "--param", "conv2.weight", "--bits", "64", "--out", key);
        Assert.True(run.Code == 0, run.ToString());
        var seed = System.Text.Json.JsonDocument.Parse(File.ReadAllText(key)).RootElement.GetProperty("slots")[0].GetProperty("seed").GetString()!;
        Assert.Equal(64, seed.Length);
        var extract = CliRunner.Run("extract", "--model", models.MarkedDat, "--key", key);
        foreach (var text in new[] { run.Out, run.Err, extract.Out, extract.Err })
        {
            Assert.DoesNotContain(seed, text, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Theory]
    [InlineData("--bits", "144", "M = 144")]
    [InlineData("--shape", "32,16,x", "positive integers")]
    [InlineData("--kind", "gaussian", "gaussian")]
    public void BadSettingsAreUnusableWithTheReason(string option, string value, string reason)
    {
        var args = new[] { "keygen", "--param", "conv2.weight", "--out", models.PathOf($"bad-{Guid.NewGuid():N}.json"), option, value };
        var run = CliRunner.Run(option == "--shape" ? args : [.. args, "--shape", "32,16,3,3"]);
        Assert.Equal(ExitCodes.Unusable, run.Code);
        Assert.Contains(reason, run.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void ModelAndShapeTogetherAreRefused()
    {
        var run = CliRunner.Run("keygen", "--model", models.MarkedDat, "--shape", "32,16,3,3", "--param", "conv2.weight", "--out", models.PathOf("both.json"));
        Assert.Equal(ExitCodes.Unusable, run.Code);
        Assert.Contains("either --model", run.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void ExtractReadsTheMessageBackAndDrawsTheHistogram()
    {
        var run = CliRunner.Run("extract", "--model", models.MarkedSafetensors, "--key", models.OwnerKey);
        Assert.True(run.Code == 0, run.ToString());
        Assert.Contains("\"ACME\" (majority vote over 2 repetitions; equals the key's message)", run.Out, StringComparison.Ordinal);
        Assert.Contains("[0.9, 1.0]", run.Out, StringComparison.Ordinal);
        var clean = CliRunner.Run("extract", "--model", models.CleanDat, "--key", models.OwnerKey);
        Assert.Contains("differs from the key's message", clean.Out, StringComparison.Ordinal);
    }
}
