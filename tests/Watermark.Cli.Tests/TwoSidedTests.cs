using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using Xunit;
using Xunit.Abstractions;

namespace Watermark.Cli.Tests;

/// <summary>
/// <c>verify --two-sided</c> and <c>scan --two-sided</c>: a mark whose bits were turned into their complement (every
/// filter of the host negated through bn2: the same network, BER 1) is absent to the one-sided test and found,
/// inverted, by the two-sided one; the toolbox's weight shifting does the same to a filter mean.
/// </summary>
[Collection(MarkedBlockNetGroup.Name)]
public class TwoSidedTests(MarkedBlockNet net, ITestOutputHelper log)
{
    [Fact]
    public void AnInvertedMarkIsAbsentOneSidedAndPresentInvertedTwoSided()
    {
        var flipped = Flipped();
        var oneSided = CliRunner.Run("verify", "--model", flipped, "--key", net.OwnerKey);
        Assert.Equal(ExitCodes.Absent, oneSided.Code);
        var twoSided = CliRunner.Run("verify", "--model", flipped, "--key", net.OwnerKey, "--two-sided");
        log.WriteLine(twoSided.Out);
        Assert.Equal(ExitCodes.Present, twoSided.Code);
        Assert.Contains("PRESENT, inverted: 0/64 bits match", twoSided.Out, StringComparison.Ordinal);

        var json = CliRunner.Run("verify", "--model", flipped, "--key", net.OwnerKey, "--two-sided", "--json");
        using var document = JsonDocument.Parse(json.Out);
        Assert.True(document.RootElement.GetProperty("twoSided").GetBoolean());
        Assert.True(document.RootElement.GetProperty("inverted").GetBoolean());
        // 2·2^-64: twice the smaller tail.
        Assert.Equal(Math.Log10(2) - (64 * Math.Log10(2)), document.RootElement.GetProperty("log10PValue").GetDouble(), 6);

        // The unattacked model: present, not inverted, its p doubled; without --two-sided nothing new is printed.
        var marked = CliRunner.Run("verify", "--model", net.MarkedDat, "--key", net.OwnerKey, "--two-sided", "--json");
        using var markedDocument = JsonDocument.Parse(marked.Out);
        Assert.Equal(ExitCodes.Present, marked.Code);
        Assert.False(markedDocument.RootElement.GetProperty("inverted").GetBoolean());
        Assert.DoesNotContain("twoSided", CliRunner.Run("verify", "--model", net.MarkedDat, "--key", net.OwnerKey, "--json").Out, StringComparison.Ordinal);
    }

    [Fact]
    public void WeightShiftingInvertsTheMarkAndTheTwoSidedTestFindsIt()
    {
        // The toolbox's s = 1.5 subtracts one and a half filter means from every filter of every conv: the host's
        // filter mean becomes −0.5 of itself plus the mean of the noise.
        var shifted = net.PathOf($"shift-{Guid.NewGuid():N}.dat");
        var attack = CliRunner.Run("attack", "shift", "--model", net.MarkedDat, "--param", TrainedModels.Host, "--out", shifted, "--seed", "3");
        Assert.True(attack.Code == 0, attack.ToString());
        var plain = net.Verify(shifted);
        var twoSided = CliRunner.Run("verify", "--model", shifted, "--key", net.OwnerKey, "--two-sided");
        log.WriteLine($"shift: one-sided exit {plain.Code}, BER {plain.Ber:0.000}; {twoSided.Out.Trim()}");
        Assert.Equal(ExitCodes.Absent, plain.Code);
        Assert.True(plain.Ber > 0.9, $"BER {plain.Ber}");
        Assert.Equal(ExitCodes.Present, twoSided.Code);
        Assert.Contains("inverted", twoSided.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void ScanJudgesTwoSidedTooAndTheReferenceIsRefusedWithIt()
    {
        var folder = net.PathOf($"two-sided-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        File.Copy(Flipped(), Path.Combine(folder, "flipped.dat"));
        var sarif = Path.Combine(folder, "scan.sarif");
        Assert.Equal(ExitCodes.Absent, CliRunner.Run("scan", folder, "--key", net.OwnerKey).Code);
        var run = CliRunner.Run("scan", folder, "--key", net.OwnerKey, "--two-sided", "--sarif", sarif);
        Assert.Equal(ExitCodes.Present, run.Code);
        using var line = JsonDocument.Parse(run.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Single());
        Assert.True(line.RootElement.GetProperty("inverted").GetBoolean());
        var text = JsonDocument.Parse(File.ReadAllText(sarif)).RootElement.GetProperty("runs")[0].GetProperty("results")[0].GetProperty("message").GetProperty("text").GetString();
        Assert.Contains("present (inverted: the bits are the key's complement): 0/64 bits, BER 1.000, two-sided p", text, StringComparison.Ordinal);

        foreach (var verb in new[] { "verify", "scan" })
        {
            string[] args = verb == "verify"
                ? ["verify", "--model", net.MarkedDat, "--key", net.OwnerKey, "--reference", net.MarkedDat, "--two-sided"]
                : ["scan", folder, "--key", net.OwnerKey, "--reference", net.MarkedDat, "--two-sided"];
            var refused = CliRunner.Run(args);
            Assert.Equal(ExitCodes.Unusable, refused.Code);
            Assert.Contains("--two-sided judges the plain reading", refused.Err, StringComparison.Ordinal);
        }
    }

    private string Flipped()
    {
        var path = net.PathOf($"flipped-{Guid.NewGuid():N}.dat");
        var run = CliRunner.Run("attack", "outputs", "--model", net.MarkedDat, "--param", TrainedModels.Host, "--norm", "bn2", "--flip", "1", "--out", path);
        Assert.True(run.Code == 0, run.ToString());
        return path;
    }
}
