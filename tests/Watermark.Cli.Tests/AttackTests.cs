using System;
using System.IO;
using System.Linq;
using Watermark.Formats;
using Xunit;

namespace Watermark.Cli.Tests;

[Collection(TrainedModelsGroup.Name)]
public class AttackCommandTests(TrainedModels models)
{
    [Theory]
    [InlineData("dat")]
    [InlineData("safetensors")]
    [InlineData("onnx")]
    public void PruningWritesTheSameFormatWithOnlyTheHostChanged(string format)
    {
        var source = format switch
        {
            "dat" => models.MarkedDat,
            "safetensors" => models.MarkedSafetensors,
            _ => models.MarkedOnnx,
        };
        var path = models.PathOf($"pruned-{Guid.NewGuid():N}.{format}");
        var run = CliRunner.Run("attack", "prune", "--model", source, "--param", TrainedModels.Host, "--rate", "0.5", "--out", path);
        Assert.True(run.Code == 0, run.ToString());
        Assert.Contains("pruned 2304 of 4608 entries", run.Out, StringComparison.Ordinal);
        var before = ModelFile.Open(source);
        var after = ModelFile.Open(path);
        Assert.Equal(before.Format, after.Format);
        Assert.Equal(new FileInfo(source).Length, new FileInfo(path).Length);
        foreach (var entry in before.Tensors.Where(t => t.Name != TrainedModels.Host))
        {
            Assert.Equal(before.ReadBytes(entry), after.ReadBytes(after.Find(entry.Name)));
        }

        var host = after.ReadFloat32(after.Find(TrainedModels.Host));
        Assert.Equal(2304, host.Count(v => v == 0));
        var kept = models.MarkedHost.Select(Math.Abs).Order().Skip(2304).ToArray();
        Assert.Equal(kept, host.Where(v => v != 0).Select(Math.Abs).Order().ToArray());
    }

    [Fact]
    public void WeightShiftingTakesOneAndAHalfFilterMeansFromEveryFilter()
    {
        // WRT's weight shifting: w ← w − 1.5·w = −0.5·w before the noise, so the projected bits flip and
        // plain verify says absent (most bits read inverted: a mark turned upside down, not erased).
        var path = models.PathOf($"shifted-{Guid.NewGuid():N}.dat");
        var run = CliRunner.Run("attack", "shift", "--model", models.MarkedDat, "--param", TrainedModels.Host, "--seed", "3", "--out", path);
        Assert.True(run.Code == 0, run.ToString());
        Assert.Contains("shifted 'conv2.weight' by 1.5 × its filter mean", run.Out, StringComparison.Ordinal);

        var shifted = ModelFile.Open(path);
        var weights = shifted.ReadFloat32(shifted.Find(TrainedModels.Host));
        var before = FilterMean.Compute(models.MarkedHost, TrainedModels.HostShape);
        var after = FilterMean.Compute(weights, TrainedModels.HostShape);
        var noiseFree = FilterMean.Compute(models.MarkedHost, TrainedModels.HostShape).Select(v => -0.5 * v).ToArray();
        var cosine = Cosine(after, noiseFree);
        Assert.True(cosine > 0.3, $"the shifted filter mean should point along −0.5·w (cosine {cosine:0.###})");
        Assert.True(Cosine(after, before) < 0, "the filter mean still points along the original one");

        var verify = CliRunner.Run("verify", "--model", path, "--key", models.OwnerKey, "--json");
        Assert.True(verify.Code == ExitCodes.Absent, verify.ToString());
        using var document = System.Text.Json.JsonDocument.Parse(verify.Out);
        Assert.True(document.RootElement.GetProperty("ber").GetDouble() > 0.5, verify.Out);

        var refused = CliRunner.Run("attack", "shift", "--model", models.MarkedDat, "--param", TrainedModels.Host, "--shift", "-1", "--out", models.PathOf($"x-{Guid.NewGuid():N}.dat"));
        Assert.Equal(ExitCodes.Unusable, refused.Code);
        Assert.Contains("--shift must be a non-negative number", refused.Err, StringComparison.Ordinal);
    }

    private static double Cosine(double[] a, double[] b) =>
        a.Zip(b).Sum(p => p.First * p.Second) / Math.Sqrt(a.Sum(x => x * x) * b.Sum(x => x * x));

    [Fact]
    public void TheMarkSurvivesPruningHalfOfTheHostWeight()
    {
        // Uchida et al. Fig. 5: BER stays 0 up to 65% ascending pruning of the host layer.
        var path = models.PathOf($"pruned-{Guid.NewGuid():N}.dat");
        Assert.Equal(0, CliRunner.Run("attack", "prune", "--model", models.MarkedDat, "--param", TrainedModels.Host, "--rate", "0.5", "--out", path).Code);
        var run = CliRunner.Run("verify", "--model", path, "--key", models.OwnerKey);
        Assert.True(run.Code == ExitCodes.Present, run.ToString());
    }

    [Fact]
    public void QuantizeAndNoiseWriteReadableCopies()
    {
        var quantized = models.PathOf($"q-{Guid.NewGuid():N}.safetensors");
        var run = CliRunner.Run("attack", "quantize", "--model", models.MarkedSafetensors, "--param", TrainedModels.Host, "--bits", "4", "--per-channel", "--out", quantized);
        Assert.True(run.Code == 0, run.ToString());
        var values = ModelFile.Open(quantized).ReadFloat32(ModelFile.Open(quantized).Find(TrainedModels.Host));
        Assert.All(values.Chunk(144), channel => Assert.True(channel.Distinct().Count() <= 15));

        var noisy = models.PathOf($"n-{Guid.NewGuid():N}.onnx");
        run = CliRunner.Run("attack", "noise", "--model", models.MarkedOnnx, "--param", TrainedModels.Host, "--sigma", "0.01", "--seed", "3", "--out", noisy);
        Assert.True(run.Code == 0, run.ToString());
        Assert.NotEqual(models.MarkedHost, ModelFile.Open(noisy).ReadFloat32(ModelFile.Open(noisy).Find(TrainedModels.Host)));
        Assert.Equal(ExitCodes.Present, CliRunner.Run("verify", "--model", noisy, "--key", models.OwnerKey).Code);
    }

    [Theory]
    [InlineData("prune", "--rate", "1.5")]
    [InlineData("quantize", "--bits", "1")]
    [InlineData("noise", "--sigma", "-1")]
    public void OutOfRangeAttackSettingsAreUnusable(string attack, string option, string value)
    {
        var run = CliRunner.Run("attack", attack, "--model", models.MarkedDat, "--param", TrainedModels.Host, option, value, "--out", models.PathOf("never.dat"));
        Assert.Equal(ExitCodes.Unusable, run.Code);
        Assert.Contains(option, run.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(models.PathOf("never.dat")));
    }
}
