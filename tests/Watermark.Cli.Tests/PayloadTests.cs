using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using Xunit;

namespace Watermark.Cli.Tests;

/// <summary>The owner's message with an error-correcting code: made by keygen, read by verify and extract.</summary>
[Collection(TrainedModelsGroup.Name)]
public class PayloadTests(TrainedModels models)
{
    [Fact]
    public void KeygenCodesAMessageByDefaultWithTheStrongestCodeThatFits()
    {
        var key = models.PathOf($"ecc-{Guid.NewGuid():N}.json");
        var run = CliRunner.Run("keygen", "--shape", "32,16,3,3", "--param", TrainedModels.Host, "--bits", "128", "--message", "ACME", "--out", key);
        Assert.True(run.Code == 0, run.ToString());
        Assert.Contains("bch:123,32 (corrects 15 bits)", run.Out, StringComparison.Ordinal);
        var slot = Keyring.Load(key).Slots[0];
        Assert.Equal(BchCode.FromLengths(123, 32), slot.Code);
        using var document = JsonDocument.Parse(File.ReadAllText(key));
        var code = document.RootElement.GetProperty("slots")[0].GetProperty("code");
        Assert.Equal("bch-v1", code.GetProperty("scheme").GetString());
        Assert.Equal(15, code.GetProperty("t").GetInt32());
    }

    [Theory]
    [InlineData("none", null)]
    [InlineData("bch:59,32", "bch:59,32")]
    [InlineData("bch:38,32", "bch:38,32")]
    public void KeygenTakesTheCodeAsked(string ecc, string? expected)
    {
        var key = models.PathOf($"ecc-{Guid.NewGuid():N}.json");
        var run = CliRunner.Run("keygen", "--shape", "32,16,3,3", "--param", TrainedModels.Host, "--bits", "64", "--message", "ACME", "--ecc", ecc, "--out", key);
        Assert.True(run.Code == 0, run.ToString());
        Assert.Equal(expected, Keyring.Load(key).Slots[0].Code?.Name);
    }

    [Theory]
    [InlineData("bch", "is not auto, none or bch:N,K")]
    [InlineData("bch:61,32", "no binary BCH code")]
    [InlineData("bch:59,40", "carries K = 40 bits but the message has 32")]
    [InlineData("bch:123,32", "needs 123 bits but the slot carries only 64")]
    public void ImpossibleCodesAreRefusedBeforeAnyKeyIsWritten(string ecc, string expected)
    {
        var key = models.PathOf($"ecc-{Guid.NewGuid():N}.json");
        var run = CliRunner.Run("keygen", "--shape", "32,16,3,3", "--param", TrainedModels.Host, "--bits", "64", "--message", "ACME", "--ecc", ecc, "--out", key);
        Assert.True(run.Code == ExitCodes.Unusable, run.ToString());
        Assert.Contains(expected, run.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(key));
    }

    [Fact]
    public void AMessageTooLongForAnyCodeSaysWhatToDo()
    {
        var run = CliRunner.Run("keygen", "--shape", "32,16,3,3", "--param", TrainedModels.Host, "--bits", "64", "--message", "ACME Vis", "--out", models.PathOf($"ecc-{Guid.NewGuid():N}.json"));
        Assert.True(run.Code == ExitCodes.Unusable, run.ToString());
        Assert.Contains("--ecc none", run.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void VerifyAndExtractReadTheCodedMessageBackApartFromTheVerdict()
    {
        var verify = CliRunner.Run("verify", "--model", models.MarkedWithCodeDat, "--key", models.OwnerWithCodeKey);
        Assert.True(verify.Code == ExitCodes.Present, verify.ToString());
        Assert.Contains("message: \"ACME\" read back exactly; bch:59,32 corrected 0 of up to 5 wrong bits", verify.Out, StringComparison.Ordinal);

        var json = CliRunner.Run("verify", "--model", models.MarkedWithCodeDat, "--key", models.OwnerWithCodeKey, "--json");
        using (var document = JsonDocument.Parse(json.Out))
        {
            var payload = document.RootElement.GetProperty("slots")[0].GetProperty("payload");
            Assert.Equal("ACME", payload.GetProperty("message").GetString());
            Assert.True(payload.GetProperty("exact").GetBoolean());
            Assert.Equal("bch:59,32", payload.GetProperty("code").GetString());
            Assert.Equal(5, payload.GetProperty("correctable").GetInt32());
            Assert.Equal(0, payload.GetProperty("corrected").GetInt32());
        }

        var extract = CliRunner.Run("extract", "--model", models.MarkedWithCodeDat, "--key", models.OwnerWithCodeKey);
        Assert.True(extract.Code == 0, extract.ToString());
        Assert.Contains("message  \"ACME\" read back exactly", extract.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void AModelWithoutTheMarkGivesNoMessage()
    {
        var run = CliRunner.Run("verify", "--model", models.CleanDat, "--key", models.OwnerWithCodeKey, "--json");
        Assert.True(run.Code == ExitCodes.Absent, run.ToString());
        using var document = JsonDocument.Parse(run.Out);
        var payload = document.RootElement.GetProperty("slots")[0].GetProperty("payload");
        Assert.False(payload.GetProperty("exact").GetBoolean());
    }

    [Fact]
    public void UpToTWrongBitsAreCorrectedAndOneMoreIsNeverReadAsTheMessage()
    {
        // The key's own target bits with e of the codeword's positions flipped (in every copy of them).
        var key = models.OwnerWithCode;
        var code = key.Code!;
        var random = new Random(3);
        foreach (var errors in new[] { 0, 1, code.CorrectableErrors, code.CorrectableErrors + 1 })
        {
            for (var trial = 0; trial < 20; trial++)
            {
                var bits = key.ToMessageBits(key.TargetBits());
                foreach (var position in Enumerable.Range(0, code.Length).OrderBy(_ => random.Next()).Take(errors))
                {
                    for (var j = position; j < key.Bits; j += code.Length)
                    {
                        bits[j] = !bits[j];
                    }
                }

                var payload = key.ReadPayload(bits)!;
                if (errors <= code.CorrectableErrors)
                {
                    Assert.True(payload.IsExact, payload.ToString());
                    Assert.Equal(errors, payload.CorrectedBits);
                }
                else
                {
                    Assert.False(payload.IsExact, payload.ToString());
                }
            }
        }
    }
}
