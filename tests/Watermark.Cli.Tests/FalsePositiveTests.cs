using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using Xunit;
using Xunit.Abstractions;

namespace Watermark.Cli.Tests;

/// <summary>
/// The false-positive check of the issue: one key against models that never saw it — random inits
/// with 20 seeds and 4 models trained on the task without the key. None may be flagged at the
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
        var pValues = paths.Select(path =>
        {
            var run = CliRunner.Run("verify", "--model", path, "--key", models.OwnerKey, "--json");
            Assert.True(run.Code == ExitCodes.Absent, $"{path}: {run}");
            using var document = JsonDocument.Parse(run.Out);
            return document.RootElement.GetProperty("pValue").GetDouble();
        }).ToList();

        var smallest = pValues.Min();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{pValues.Count} models without the key: smallest p = {smallest:0.###e0}, median p = {pValues.Order().ElementAt(pValues.Count / 2):0.###}"));
        Assert.Equal(25, pValues.Count);
        Assert.True(smallest > VerificationResult.DefaultAlpha);
    }
}
