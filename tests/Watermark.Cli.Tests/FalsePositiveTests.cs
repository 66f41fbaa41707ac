using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using Xunit;
using Xunit.Abstractions;

namespace Watermark.Cli.Tests;

/// <summary>
/// The false-positive check of the issue: one key against models that never saw it — random inits
/// with 20 seeds, 4 models trained on the task without the key and the clean twin of the marked model. None may be flagged at the
/// default bound; the smallest p-value is reported (README, "False positives").
/// </summary>
[Collection(TrainedModelsGroup.Name)]
public class FalsePositiveTests(TrainedModels models, ITestOutputHelper output)
{
    [Fact]
    public void NoModelThatNeverSawTheKeyIsFlagged()
    {
        var paths = new List<string>();
        for (var seed = 0; seed < 20; seed++)
        {
            paths.Add(models.Train($"init-{seed}.dat", initSeed: 1000 + seed, key: null, steps: 0));
        }

        for (var seed = 0; seed < 4; seed++)
        {
            paths.Add(models.Train($"trained-{seed}.dat", initSeed: 2000 + seed, key: null, steps: 60));
        }

        paths.Add(models.CleanDat);
        Assert.All(paths, p => Assert.True(System.IO.File.Exists(p)));
        var pValues = paths.Select(path =>
        {
            var run = CliRunner.Run("verify", "--model", path, "--key", models.OwnerKey, "--json");
            Assert.True(run.Code == ExitCodes.Absent, $"{path}: {run}");
            using var document = JsonDocument.Parse(run.Out);
            return document.RootElement.GetProperty("pValue").GetDouble();
        }).ToList();

        var smallest = pValues.Min();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{pValues.Count} models without the key: smallest p = {smallest:0.###e0}, median p = {pValues.Order().ElementAt(pValues.Count / 2):0.###}"));
        Assert.True(smallest > VerificationResult.DefaultAlpha);

        // The payload of a coded key must never read back as a valid message from these models: with
        // BCH(123, 32), t = 15, a word that never carried the code is refused (a random word lands within
        // 15 bits of a codeword with probability V(123, 15) / 2^91 < 1e-8).
        var coded = models.PathOf("null-ecc.key.json");
        new Keyring(WatermarkKey.Create(TrainedModels.Host, TrainedModels.HostShape, 128, KeyKind.Random, Message.FromText("ACME"), WatermarkKey.DefaultStrength, null, false, TrainedModels.Seed(6), BchCode.Choose(32, 128))).Save(coded, overwrite: true);
        var decoded = 0;
        foreach (var path in paths)
        {
            var run = CliRunner.Run("verify", "--model", path, "--key", coded, "--json");
            Assert.True(run.Code == ExitCodes.Absent, $"{path}: {run}");
            using var document = JsonDocument.Parse(run.Out);
            var payload = document.RootElement.GetProperty("slots")[0].GetProperty("payload");
            Assert.False(payload.GetProperty("exact").GetBoolean(), $"{path}: {run.Out}");
            decoded += payload.GetProperty("decoded").GetBoolean() ? 1 : 0;
        }

        output.WriteLine($"{paths.Count} models without the key, BCH(123, 32) payload: {decoded} decoded to any message, {paths.Count - decoded} refused");
        Assert.Equal(0, decoded);
    }
}
