using System;
using System.IO;
using Watermark.Formats;
using Watermark.Tests;
using Xunit;

namespace Watermark.Cli.Tests;

/// <summary>
/// The verbs on models in several files — a sharded safetensors index, an ONNX model with external data —
/// made from the trained models' own tensors: verify gives the same verdicts as on one file, the reading
/// verbs work, the writing ones refuse with the way out, and every hostile layout exits 2 naming the problem.
/// </summary>
[Collection(TrainedModelsGroup.Name)]
public class MultiPartTests(TrainedModels models)
{
    public static TheoryData<string> HostileCases() => [.. MultiPartModels.Hostile.Keys];

    [Theory]
    [InlineData("sharded", true)]
    [InlineData("sharded", false)]
    [InlineData("onnx external data", true)]
    [InlineData("onnx external data", false)]
    [InlineData("onnx file per tensor", true)]
    [InlineData("onnx file per tensor", false)]
    public void VerifyGivesTheSameVerdictAsOnOneFile(string layout, bool marked)
    {
        var path = Write(layout, marked ? models.MarkedDat : models.CleanDat);
        var run = CliRunner.Run("verify", "--model", path, "--key", models.OwnerKey);
        Assert.True(run.Code == (marked ? ExitCodes.Present : ExitCodes.Absent), run.ToString());
        if (marked)
        {
            Assert.Matches(@"conv2\.weight\s+64\s+64\s+0\.000", run.Out);
        }
    }

    [Theory]
    [InlineData("sharded")]
    [InlineData("onnx external data")]
    public void ReadingVerbsWorkAndConvertMakesOneFile(string layout)
    {
        var path = Write(layout, models.MarkedDat);
        var extract = CliRunner.Run("extract", "--model", path, "--key", models.OwnerKey);
        Assert.True(extract.Code == 0, extract.ToString());
        Assert.Contains("matched  64/64 bits", extract.Out, StringComparison.Ordinal);

        var inspect = CliRunner.Run("inspect", "--model", path);
        Assert.True(inspect.Code == 0, inspect.ToString());
        Assert.Contains(layout == "sharded" ? "model-00001-of-00002.safetensors, model-00002-of-00002.safetensors" : MultiPartModels.DataFile, inspect.Out, StringComparison.Ordinal);
        Assert.Matches(@"conv2\.weight\s+\[32, 16, 3, 3\]\s+float32\s+144", inspect.Out);

        var single = models.PathOf($"from-multipart-{Guid.NewGuid():N}.safetensors");
        var convert = CliRunner.Run("convert", "--model", path, "--out", single);
        Assert.True(convert.Code == 0, convert.ToString());
        Assert.Equal(models.MarkedHost, ModelFile.Open(single).ReadFloat32(ModelFile.Open(single).Find(TrainedModels.Host)));
        Assert.Equal(ExitCodes.Present, CliRunner.Run("verify", "--model", single, "--key", models.OwnerKey).Code);
    }

    [Theory]
    [InlineData("sharded", "attack", "prune", "--rate", "0.5")]
    [InlineData("onnx external data", "attack", "prune", "--rate", "0.5")]
    [InlineData("sharded", "attack", "clique", "--producer", "conv1")]
    public void AttacksRefuseToWriteAMultiFileModel(string layout, params string[] verb)
    {
        var path = Write(layout, models.MarkedDat);
        var output = models.PathOf($"attacked-{Guid.NewGuid():N}.safetensors");
        var run = CliRunner.Run([.. verb, "--model", path, "--param", TrainedModels.Host, "--out", output]);
        Assert.True(run.Code == ExitCodes.Unusable, run.ToString());
        Assert.Contains("Convert it to one file first (watermark convert", run.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    [Theory]
    [MemberData(nameof(HostileCases))]
    public void HostileLayoutsExit2NamingTheProblem(string name)
    {
        var path = MultiPartModels.MakeHostile(name, models.Folder, ModelFile.Open(models.MarkedDat).ReadAll());
        var run = CliRunner.Run("verify", "--model", path, "--key", models.OwnerKey);
        Assert.True(run.Code == ExitCodes.Unusable, run.ToString());
        Assert.Contains(MultiPartModels.Hostile[name], run.Err, StringComparison.Ordinal);
        Assert.StartsWith("watermark: error: Model file '", run.Err, StringComparison.Ordinal);
    }

    private string Write(string layout, string model)
    {
        var tensors = ModelFile.Open(model).ReadAll();
        var folder = MultiPartModels.NewFolder(models.Folder);
        return layout switch
        {
            "sharded" => MultiPartModels.WriteSharded(folder, tensors),
            "onnx external data" => MultiPartModels.WriteExternalOnnx(folder, tensors),
            _ => MultiPartModels.WriteExternalOnnx(folder, tensors, oneFile: false),
        };
    }
}
