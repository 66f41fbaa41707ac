using System;
using System.Text.Json;
using Watermark.Formats;
using Xunit;

namespace Watermark.Cli.Tests;

/// <summary>
/// <c>verify --reference</c>: a copy whose host's input channels were permuted (the function kept) is
/// absent to plain verify and present after alignment to the owner's original, in every format; models
/// that never saw the key stay absent; a reference without the mark is unusable input.
/// </summary>
[Collection(TrainedModelsGroup.Name)]
public sealed class ReferenceTests(TrainedModels models)
{
    private string Permuted(string format)
    {
        var dat = models.PathOf($"permuted-{Guid.NewGuid():N}.dat");
        var run = CliRunner.Run("attack", "permute", "--model", models.MarkedDat, "--param", "conv1.weight", "--also", "conv1.bias:0", "--also", "conv2.weight:1", "--seed", "3", "--out", dat);
        Assert.True(run.Code == 0, run.ToString());
        Assert.True(TwoLayers.ComputeTheSame(models.MarkedDat, dat), "the permutation changed the function");
        if (format == "dat")
        {
            return dat;
        }

        var converted = models.PathOf($"permuted-{Guid.NewGuid():N}.{format}");
        Assert.Equal(0, CliRunner.Run("convert", "--model", dat, "--out", converted).Code);
        return converted;
    }

    [Theory]
    [InlineData("dat")]
    [InlineData("safetensors")]
    [InlineData("onnx")]
    public void APermutedCopyIsAbsentPlainlyAndPresentAlignedInEveryFormat(string format)
    {
        var suspect = Permuted(format);
        var plain = CliRunner.Run("verify", "--model", suspect, "--key", models.OwnerKey);
        Assert.True(plain.Code == ExitCodes.Absent, plain.ToString());

        var aligned = CliRunner.Run("verify", "--model", suspect, "--key", models.OwnerKey, "--reference", models.MarkedSafetensors);
        Assert.True(aligned.Code == ExitCodes.Present, aligned.ToString());
        Assert.Contains("aligned:   64/64 bits", aligned.Out, StringComparison.Ordinal);
        Assert.Contains("inputs: 16/16 channels moved", aligned.Out, StringComparison.Ordinal);
        Assert.Contains("after a confident alignment", aligned.Out, StringComparison.Ordinal);

        using var json = JsonDocument.Parse(CliRunner.Run("verify", "--model", suspect, "--key", models.OwnerKey, "--reference", models.MarkedDat, "--json").Out);
        Assert.True(json.RootElement.GetProperty("present").GetBoolean());
        Assert.True(json.RootElement.GetProperty("confident").GetBoolean());
        Assert.False(json.RootElement.GetProperty("plain").GetProperty("present").GetBoolean());
        Assert.Equal(64, json.RootElement.GetProperty("aligned").GetProperty("matched").GetInt32());
        Assert.Equal(16, json.RootElement.GetProperty("alignments")[0].GetProperty("inputsMoved").GetInt32());
    }

    [Fact]
    public void ModelsThatNeverSawTheKeyStayAbsentAfterAlignment()
    {
        // Trained from the marked model's own initialisation without the key: it aligns confidently
        // (it is nearly the same network) and still does not carry the mark.
        var clean = CliRunner.Run("verify", "--model", models.CleanDat, "--key", models.OwnerKey, "--reference", models.MarkedDat);
        Assert.True(clean.Code == ExitCodes.Absent, clean.ToString());

        // Another initialisation: the alignment is not confident, and its bits do not count.
        var unrelated = CliRunner.Run("verify", "--model", models.UnrelatedDat, "--key", models.OwnerKey, "--reference", models.MarkedDat);
        Assert.True(unrelated.Code == ExitCodes.Absent, unrelated.ToString());
    }

    [Fact]
    public void AKeyTheReferenceDoesNotCarryIsAbsent()
    {
        // A fresh key against the owner's original: the reference does not carry it, so nothing aligned to it can.
        var suspect = Permuted("safetensors");
        var fresh = CliRunner.Run("verify", "--model", suspect, "--key", models.FreshKey, "--reference", models.MarkedDat);
        Assert.True(fresh.Code == ExitCodes.Absent, fresh.ToString());
        Assert.Contains("it does NOT carry this key's mark", fresh.Out, StringComparison.Ordinal);
        Assert.Contains("verdict: absent: the reference does not carry this key's mark", fresh.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("message:", fresh.Out, StringComparison.Ordinal);
        using (var json = JsonDocument.Parse(CliRunner.Run("verify", "--model", suspect, "--key", models.FreshKey, "--reference", models.MarkedDat, "--json").Out))
        {
            Assert.False(json.RootElement.GetProperty("present").GetBoolean());
            Assert.False(json.RootElement.GetProperty("reference").GetProperty("present").GetBoolean());
        }

        // The owner's key with a model that never carried it as the reference: absent too, even for the marked copy
        // (its plain check is what speaks for it there).
        var wrongReference = CliRunner.Run("verify", "--model", suspect, "--key", models.OwnerKey, "--reference", models.CleanDat);
        Assert.True(wrongReference.Code == ExitCodes.Absent, wrongReference.ToString());
        Assert.Contains("give the original marked model as --reference", wrongReference.Out, StringComparison.Ordinal);
        var plainlyMarked = CliRunner.Run("verify", "--model", models.MarkedDat, "--key", models.OwnerKey, "--reference", models.CleanDat);
        Assert.True(plainlyMarked.Code == ExitCodes.Present, plainlyMarked.ToString());
    }

    [Theory]
    [InlineData("conv1.weight")]
    [InlineData("=conv1.weight,bn")]
    [InlineData("a,b,c")]
    public void AMalformedProducerIsRefusedBeforeAnyFileIsRead(string producer)
    {
        var run = CliRunner.Run("verify", "--model", "/nonexistent/suspect.dat", "--key", "/nonexistent/key.json", "--reference", "/nonexistent/original.dat", "--producer", producer);
        Assert.Equal(ExitCodes.Unusable, run.Code);
        Assert.Contains("--producer", run.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("nonexistent", run.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void AProducerWithoutAReferenceIsRefused()
    {
        var run = CliRunner.Run("verify", "--model", models.MarkedDat, "--key", models.OwnerKey, "--producer", "conv1.weight,bn2");
        Assert.Equal(ExitCodes.Unusable, run.Code);
        Assert.Contains("--reference", run.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void TheLibraryGivesTheSameVerdictAsTheCommand()
    {
        var suspect = Permuted("dat");
        var result = Keyring.Load(models.OwnerKey).Verify(ModelFile.Open(suspect), ModelFile.Open(models.MarkedDat));
        Assert.True(result.IsPresent && result.IsConfident);
        Assert.False(result.Plain!.IsPresent);
        Assert.Equal(64, result.Aligned.Matched);
    }
}
