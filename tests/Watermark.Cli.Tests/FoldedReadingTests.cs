using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using Watermark.Formats;
using Xunit;
using Xunit.Abstractions;

namespace Watermark.Cli.Tests;

/// <summary>
/// <c>verify --fold-norm</c>: the host (conv2 of <see cref="BlockNet"/>, marked on real CIFAR-10 images) read with each
/// filter times γ/√(σ²+ε) of bn2, the batch norm right after it — a canonical form the output-side transforms
/// (reorder, rescale, sign-flip through bn2) cannot move, found from the suspect alone.
/// </summary>
[Collection(MarkedBlockNetGroup.Name)]
public class FoldedReadingTests(MarkedBlockNet net, ITestOutputHelper log)
{
    [Fact]
    public void TheFoldedReadingFindsTheMarkAfterEveryOutputTransformWherePlainVerifyDoesNot()
    {
        var unattacked = Folded(net.MarkedDat);
        log.WriteLine($"unattacked: folded {unattacked.Matched}/64");
        Assert.Equal(ExitCodes.Present, unattacked.Code);

        // Flipping every filter turns every plainly read bit (BER 1, absent); half of them leaves a noisy balance.
        // Each output transform, and all at once, leave the folded weight as it was up to float rounding.
        foreach (var options in new[]
        {
            new[] { "--flip", "1" },
            ["--flip", "0.5"],
            ["--scale", "20"],
            ["--permute", "--next", "conv3.weight:1", "--scale", "20", "--flip", "0.5"],
        })
        {
            var path = net.PathOf($"outputs-{Guid.NewGuid():N}.dat");
            var run = CliRunner.Run(["attack", "outputs", "--model", net.MarkedDat, "--param", TrainedModels.Host, "--norm", "bn2", .. options, "--seed", "4", "--out", path]);
            Assert.True(run.Code == 0, run.ToString());
            var plain = net.Verify(path);
            var folded = Folded(path);
            log.WriteLine($"outputs {string.Join(' ', options)}: plain exit {plain.Code} BER {plain.Ber:0.000}; folded exit {folded.Code} {folded.Matched}/64");
            Assert.Equal(ExitCodes.Present, folded.Code);
            Assert.InRange(folded.Matched, unattacked.Matched - 1, unattacked.Matched + 1);
            if (options.SequenceEqual(["--flip", "1"]))
            {
                Assert.Equal((ExitCodes.Absent, 1.0), (plain.Code, plain.Ber));
            }
        }
    }

    [Fact]
    public void EveryFormatReadsFoldedAndTheJsonAndTableSayWhichNormWasFolded()
    {
        var onnx = net.PathOf($"block-{Guid.NewGuid():N}.onnx");
        Assert.Equal(0, CliRunner.Run("convert", "--model", net.MarkedDat, "--out", onnx).Code);
        var matched = new List<int>();
        foreach (var path in new[] { net.MarkedDat, net.MarkedSafetensors, onnx })
        {
            var run = CliRunner.Run("verify", "--model", path, "--key", net.OwnerKey, "--fold-norm", "bn2", "--json");
            Assert.True(run.Code == ExitCodes.Present, run.ToString());
            using var json = JsonDocument.Parse(run.Out);
            var slot = json.RootElement.GetProperty("slots")[0];
            Assert.Equal("bn2", slot.GetProperty("foldedWith").GetString());
            matched.Add(slot.GetProperty("matched").GetInt32());
        }

        Assert.Single(matched.Distinct());
        var table = CliRunner.Run("verify", "--model", net.MarkedDat, "--key", net.OwnerKey, "--fold-norm", $"{TrainedModels.Host}=bn2");
        Assert.Equal(ExitCodes.Present, table.Code);
        Assert.Contains($"read folded: {TrainedModels.Host}, each filter times γ/√(σ²+ε) of 'bn2'", table.Out, StringComparison.Ordinal);
        var plain = CliRunner.Run("verify", "--model", net.MarkedDat, "--key", net.OwnerKey, "--json");
        Assert.DoesNotContain("foldedWith", plain.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("bn9", "has no tensor named 'bn9.weight'")]
    [InlineData("bn1", "it has 16 channels but the host has 32 filters, so it is not the batch norm right after the host")]
    [InlineData("conv3.weight=bn2", "names slot 'conv3.weight', which the key file does not have")]
    [InlineData("bn2,bn1", "--fold-norm takes [SLOT=]NORM")]
    [InlineData("=bn2", "--fold-norm takes [SLOT=]NORM")]
    public void AWrongNormIsUnusableInputNamingIt(string value, string expected)
    {
        var run = CliRunner.Run("verify", "--model", net.MarkedDat, "--key", net.OwnerKey, "--fold-norm", value);
        log.WriteLine(run.Err.Trim());
        Assert.Equal(ExitCodes.Unusable, run.Code);
        Assert.Contains(expected, run.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void FoldingWithAReferenceIsRefusedAsTheAlignmentUndoesTheSame()
    {
        var run = CliRunner.Run("verify", "--model", net.MarkedDat, "--key", net.OwnerKey, "--reference", net.MarkedDat, "--fold-norm", "bn2");
        Assert.Equal(ExitCodes.Unusable, run.Code);
        Assert.Contains("--fold-norm reads the suspect alone", run.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void KeysTheModelNeverSawReadFoldedAsFairCoins()
    {
        // The folding looks at the model only, so for a key it never saw the bits stay fair coins and the
        // binomial p-value a valid bound: 400 fresh keys on the marked, sign-flipped network, read folded.
        var path = net.PathOf($"outputs-{Guid.NewGuid():N}.dat");
        Assert.Equal(0, CliRunner.Run("attack", "outputs", "--model", net.MarkedDat, "--param", TrainedModels.Host, "--norm", "bn2", "--flip", "0.5", "--scale", "20", "--seed", "7", "--out", path).Code);
        var model = ModelFile.Open(path);
        var shape = model.Find(TrainedModels.Host).Shape;
        var norms = new Dictionary<string, string> { [TrainedModels.Host] = "bn2" };
        var results = Enumerable.Range(0, 400)
            .Select(i => new Keyring(WatermarkKey.Create(TrainedModels.Host, shape, 64, KeyKind.Random, Message.AllOnes, 0.01, null, false, SecretSeed.FromBytes(System.Security.Cryptography.SHA256.HashData(BitConverter.GetBytes(1000L + i))))).Verify(model, norms))
            .ToList();
        var smallest = results.Min(r => r.PValue.Log10);
        var below5 = results.Count(r => r.PValue.IsAtMost(0.05));
        log.WriteLine($"400 fresh keys read folded: mean BER {results.Average(r => r.BitErrorRate):0.000}, smallest p 10^{smallest:0.0}, {below5} with p ≤ 0.05");
        Assert.DoesNotContain(results, r => r.IsPresent);
        Assert.InRange(results.Average(r => r.BitErrorRate), 0.47, 0.53);
        Assert.InRange(below5, 5, 40); // 20 expected; the binomial's steps make it ≤ 5% per key
    }

    private (int Code, int Matched) Folded(string path)
    {
        var run = CliRunner.Run("verify", "--model", path, "--key", net.OwnerKey, "--fold-norm", "bn2", "--json");
        Assert.True(run.Code is ExitCodes.Present or ExitCodes.Absent, run.ToString());
        using var json = JsonDocument.Parse(run.Out);
        return (run.Code, json.RootElement.GetProperty("matched").GetInt32());
    }
}
