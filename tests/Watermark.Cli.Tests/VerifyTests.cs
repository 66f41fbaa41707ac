using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using Xunit;

namespace Watermark.Cli.Tests;

[Collection(TrainedModelsGroup.Name)]
public class VerifyTests(TrainedModels models)
{
    [Theory]
    [InlineData("dat")]
    [InlineData("safetensors")]
    [InlineData("onnx")]
    public void TheOwnersKeyFindsTheMarkInEveryFormat(string format)
    {
        var model = format switch
        {
            "dat" => models.MarkedDat,
            "safetensors" => models.MarkedSafetensors,
            _ => models.MarkedOnnx,
        };
        var run = CliRunner.Run("verify", "--model", model, "--key", models.OwnerKey);
        Assert.True(run.Code == ExitCodes.Present, run.ToString());
        Assert.Contains("PRESENT", run.Out, StringComparison.Ordinal);
        Assert.Contains("matched  64/64 bits", CliRunner.Run("extract", "--model", model, "--key", models.OwnerKey).Out, StringComparison.Ordinal);
        Assert.Empty(run.Err);
    }

    [Fact]
    public void AllFormatsGiveTheSameNumbers()
    {
        var dat = Json(models.MarkedDat, models.OwnerKey);
        foreach (var copy in new[] { models.MarkedSafetensors, models.MarkedOnnx })
        {
            var other = Json(copy, models.OwnerKey);
            Assert.Equal(dat.GetProperty("matched").GetInt32(), other.GetProperty("matched").GetInt32());
            Assert.Equal(dat.GetProperty("log10PValue").GetDouble(), other.GetProperty("log10PValue").GetDouble());
            Assert.Equal(dat.GetProperty("present").GetBoolean(), other.GetProperty("present").GetBoolean());
        }
    }

    [Fact]
    public void JsonHasTheVerdictAndEverySlot()
    {
        var run = CliRunner.Run("verify", "--model", models.MarkedDat, "--key", models.OwnerKey, "--json");
        Assert.Equal(ExitCodes.Present, run.Code);
        using var document = JsonDocument.Parse(run.Out);
        var root = document.RootElement;
        Assert.True(root.GetProperty("present").GetBoolean());
        Assert.True(root.GetProperty("pValue").GetDouble() < 1e-6);
        Assert.Equal(1e-6, root.GetProperty("alpha").GetDouble());
        var slot = Assert.Single(root.GetProperty("slots").EnumerateArray().ToArray());
        Assert.Equal(TrainedModels.Host, slot.GetProperty("name").GetString());
        Assert.Equal(64, slot.GetProperty("bits").GetInt32());
        Assert.Equal(64, slot.GetProperty("matched").GetInt32());
        Assert.Equal(0.0, slot.GetProperty("ber").GetDouble());
        Assert.True(slot.GetProperty("pValue").GetDouble() < 1e-6);
    }

    [Fact]
    public void AFreshKeyFindsNothing()
    {
        var run = CliRunner.Run("verify", "--model", models.MarkedDat, "--key", models.FreshKey);
        Assert.True(run.Code == ExitCodes.Absent, run.ToString());
        Assert.Contains("absent", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnrelatedModelIsAbsent()
    {
        var run = CliRunner.Run("verify", "--model", models.UnrelatedDat, "--key", models.OwnerKey);
        Assert.True(run.Code == ExitCodes.Absent, run.ToString());
    }

    [Fact]
    public void TheSameModelTrainedWithoutTheKeyIsAbsent()
    {
        var run = CliRunner.Run("verify", "--model", models.CleanDat, "--key", models.OwnerKey, "--json");
        Assert.True(run.Code == ExitCodes.Absent, run.ToString());
        using var document = JsonDocument.Parse(run.Out);
        Assert.False(document.RootElement.GetProperty("present").GetBoolean());
        Assert.InRange(document.RootElement.GetProperty("ber").GetDouble(), 0.25, 0.75);
    }

    [Fact]
    public void AlphaDecidesTheVerdict()
    {
        // 64 of 64 bits give p = 2^-64 ≈ 5.4e-20: present at the default 1e-6, absent at a bound of 1e-30.
        Assert.Equal(ExitCodes.Present, CliRunner.Run("verify", "--model", models.MarkedDat, "--key", models.OwnerKey).Code);
        var run = CliRunner.Run("verify", "--model", models.MarkedDat, "--key", models.OwnerKey, "--alpha", "1e-30");
        Assert.True(run.Code == ExitCodes.Absent, run.ToString());
        Assert.Contains("alpha = 1e-30", run.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("1")]
    [InlineData("-1e-6")]
    [InlineData("abc")]
    public void AnAlphaOutsideTheOpenUnitIntervalIsUnusable(string alpha)
    {
        var run = CliRunner.Run("verify", "--model", models.MarkedDat, "--key", models.OwnerKey, "--alpha", alpha);
        Assert.Equal(ExitCodes.Unusable, run.Code);
        Assert.Contains("alpha", run.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void AMissingModelIsUnusableWithOneLineNamingIt()
    {
        var missing = models.PathOf("no-such-model.dat");
        var run = CliRunner.Run("verify", "--model", missing, "--key", models.OwnerKey);
        Assert.Equal(ExitCodes.Unusable, run.Code);
        Assert.Single(run.Err.TrimEnd('\n').Split('\n'));
        Assert.Contains(missing, run.Err, StringComparison.Ordinal);
        Assert.Contains("not found", run.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void AMissingKeyIsUnusable()
    {
        var run = CliRunner.Run("verify", "--model", models.MarkedDat, "--key", models.PathOf("no-such.key.json"));
        Assert.Equal(ExitCodes.Unusable, run.Code);
        Assert.Contains("Key file", run.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("dat")]
    [InlineData("safetensors")]
    [InlineData("onnx")]
    public void ATruncatedCopyIsUnusable(string format)
    {
        var source = format switch
        {
            "dat" => models.MarkedDat,
            "safetensors" => models.MarkedSafetensors,
            _ => models.MarkedOnnx,
        };
        var bytes = File.ReadAllBytes(source);
        var truncated = models.PathOf($"truncated-{Guid.NewGuid():N}.{format}");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length * 2 / 3)]);
        var run = CliRunner.Run("verify", "--model", truncated, "--key", models.OwnerKey);
        Assert.True(run.Code == ExitCodes.Unusable, run.ToString());
        Assert.Contains(truncated, run.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void ACorruptFileIsUnusable()
    {
        var corrupt = models.PathOf($"corrupt-{Guid.NewGuid():N}.dat");
        var bytes = new byte[4096];
        new Random(5).NextBytes(bytes);
        File.WriteAllBytes(corrupt, bytes);
        var run = CliRunner.Run("verify", "--model", corrupt, "--key", models.OwnerKey);
        Assert.True(run.Code == ExitCodes.Unusable, run.ToString());
    }

    [Fact]
    public void AnUnknownFormatIsUnusableAndSaysHowToNameIt()
    {
        var unknown = models.PathOf($"weights-{Guid.NewGuid():N}.pt");
        File.WriteAllBytes(unknown, [0x80, 0x02, 0x7D, 0x71]);
        var run = CliRunner.Run("verify", "--model", unknown, "--key", models.OwnerKey);
        Assert.Equal(ExitCodes.Unusable, run.Code);
        Assert.Contains("unknown format", run.Err, StringComparison.Ordinal);
        Assert.Contains("--format", run.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void AKeyForAnotherShapeIsUnusable()
    {
        var key = models.PathOf($"shape-{Guid.NewGuid():N}.json");
        new Keyring(WatermarkKey.Create(TrainedModels.Host, [32, 8, 3, 3], 32, KeyKind.Random, null, WatermarkKey.DefaultStrength, null, false, TrainedModels.Seed(3))).Save(key);
        var run = CliRunner.Run("verify", "--model", models.MarkedDat, "--key", key);
        Assert.Equal(ExitCodes.Unusable, run.Code);
        Assert.Contains("[32, 8, 3, 3]", run.Err, StringComparison.Ordinal);
        Assert.Contains("[32, 16, 3, 3]", run.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void AKeyForAnotherSlotIsUnusableAndListsTheWeights()
    {
        var key = models.PathOf($"slot-{Guid.NewGuid():N}.json");
        new Keyring(WatermarkKey.Create("conv3.weight", TrainedModels.HostShape, 32, KeyKind.Random, null, WatermarkKey.DefaultStrength, null, false, TrainedModels.Seed(4))).Save(key);
        var run = CliRunner.Run("verify", "--model", models.MarkedDat, "--key", key);
        Assert.Equal(ExitCodes.Unusable, run.Code);
        Assert.Contains("'conv3.weight'", run.Err, StringComparison.Ordinal);
        Assert.Contains("conv2.weight", run.Err, StringComparison.Ordinal);
        Assert.Contains("check that the key file belongs to this model", run.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void AMistypedTensorNameGetsTheCloseNamesAndNoWordOfAKeyWhereThereIsNone()
    {
        var run = CliRunner.Run("attack", "prune", "--model", models.MarkedDat, "--param", "conv2", "--rate", "0.5", "--out", models.PathOf($"x-{Guid.NewGuid():N}.dat"));
        Assert.Equal(ExitCodes.Unusable, run.Code);
        Assert.Contains("Did you mean 'conv2.weight'?", run.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("key file", run.Err, StringComparison.Ordinal);

        var typo = CliRunner.Run("keygen", "--model", models.MarkedDat, "--param", "conv2.wieght", "--out", models.PathOf($"k-{Guid.NewGuid():N}.json"));
        Assert.Equal(ExitCodes.Unusable, typo.Code);
        Assert.Contains("Did you mean 'conv2.weight'", typo.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("key file", typo.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingOptionsAreUnusableAndPointToHelp()
    {
        var run = CliRunner.Run("verify", "--model", models.MarkedDat);
        Assert.Equal(ExitCodes.Unusable, run.Code);
        Assert.Contains("--key", run.Err, StringComparison.Ordinal);
        Assert.Contains("watermark verify --help", run.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void NaNWeightsAreUnusableNotAbsent()
    {
        var marked = Formats.ModelFile.Open(models.MarkedDat);
        var tensors = marked.ReadAll().Select(t =>
        {
            if (t.Name != TrainedModels.Host)
            {
                return t;
            }

            var bytes = t.Data.ToArray();
            System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(40), float.NaN);
            return t with { Data = bytes };
        }).ToList();
        var path = models.PathOf($"nan-{Guid.NewGuid():N}.safetensors");
        Formats.ModelFile.Write(path, Formats.ModelFormat.Safetensors, tensors);
        var run = CliRunner.Run("verify", "--model", path, "--key", models.OwnerKey);
        Assert.Equal(ExitCodes.Unusable, run.Code);
        Assert.Contains("NaN at index 10", run.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void AMistypedVerbIsUnusableAndTheClosestIsSuggested()
    {
        // System.CommandLine's own typo corrections, sent to stderr.
        var run = CliRunner.Run("verfy", "--model", models.MarkedDat);
        Assert.Equal(ExitCodes.Unusable, run.Code);
        Assert.Contains("'verfy' was not matched. Did you mean one of the following?\nverify\n", run.Err, StringComparison.Ordinal);
        Assert.Empty(run.Out);
    }

    [Fact]
    public void HelpStatesTheExitCodesAndTheDefaultAlphaWithItsReason()
    {
        var run = CliRunner.Run("verify", "--help");
        Assert.Equal(0, run.Code);
        Assert.Contains("1: absent", run.Out, StringComparison.Ordinal);
        Assert.Contains("once in a million", run.Out, StringComparison.Ordinal);
    }

    private static JsonElement Json(string model, string key)
    {
        var run = CliRunner.Run("verify", "--model", model, "--key", key, "--json");
        Assert.True(run.Code is ExitCodes.Present or ExitCodes.Absent, run.ToString());
        using var document = JsonDocument.Parse(run.Out);
        return document.RootElement.Clone();
    }
}
