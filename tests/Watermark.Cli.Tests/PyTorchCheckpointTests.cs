using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using Watermark.Formats;
using Xunit;

namespace Watermark.Cli.Tests;

/// <summary>
/// <c>verify</c> on checkpoints written by PyTorch's own <c>torch.save</c> (eng/fixtures/make_pytorch_fixtures.py):
/// the owner's marked weights put into a plain, a nested and a DataParallel checkpoint verify as present, the
/// PyTorch-initialised originals as absent, and every malicious pickle ends in exit 2 naming what it refused.
/// </summary>
[Collection(TrainedModelsGroup.Name)]
public sealed class PyTorchCheckpointTests(TrainedModels models)
{
    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "pytorch", name);

    // The marked TwoLayers' every tensor written into a copy of the PyTorch-made file, in place (the zip's CRCs updated).
    private string Marked(string fixture)
    {
        var marked = ModelFile.Open(models.MarkedDat);
        var checkpoint = ModelFile.Open(Fixture(fixture));
        var path = models.PathOf($"marked-{Guid.NewGuid():N}-{fixture}");
        checkpoint.WriteWithReplaced(path, [.. marked.Tensors.Select(t => (checkpoint.Find(t.Name), marked.ReadFloat32(t)))]);
        return path;
    }

    [Theory]
    [InlineData("twolayers.pt")]
    [InlineData("twolayers_nested.pth")]
    [InlineData("twolayers_dataparallel.pth")]
    public void APyTorchCheckpointCarryingTheMarkIsPresentAndTheOriginalAbsent(string fixture)
    {
        var marked = Marked(fixture);
        var present = CliRunner.Run("verify", "--model", marked, "--key", models.OwnerKey, "--json");
        Assert.True(present.Code == ExitCodes.Present, present.ToString());
        using (var json = JsonDocument.Parse(present.Out))
        {
            Assert.Equal(64, json.RootElement.GetProperty("matched").GetInt32());
        }

        // The same check as the TorchSharp file it came from gives the same bits.
        Assert.Equal(CliRunner.Run("verify", "--model", models.MarkedDat, "--key", models.OwnerKey).Out, CliRunner.Run("verify", "--model", marked, "--key", models.OwnerKey).Out);

        var original = CliRunner.Run("verify", "--model", Fixture(fixture), "--key", models.OwnerKey);
        Assert.True(original.Code == ExitCodes.Absent, original.ToString());
        // --format pytorch reads it whatever the name says.
        var renamed = models.PathOf($"renamed-{Guid.NewGuid():N}.weights");
        File.Copy(marked, renamed);
        Assert.Equal(ExitCodes.Present, CliRunner.Run("verify", "--model", renamed, "--key", models.OwnerKey, "--format", "pytorch").Code);
    }

    [Theory]
    [InlineData("malicious_reduce.pt", "refuses to run pickle global 'posix.system'")]
    [InlineData("malicious_global.pt", "refuses to run pickle global 'os.system'")]
    [InlineData("malicious_eval.pt", "refuses to run pickle global '__builtin__.eval'")] // protocol 2 writes Python 2's module names
    [InlineData("malicious_popen.pt", "refuses to run pickle global 'commands.Popen'")]
    [InlineData("malicious_stack_global.pt", "refuses to run pickle global 'builtins.exec'")]
    [InlineData("malicious_binunicode.pt", "declares a string of 4294967295 bytes")]
    [InlineData("malicious_binunicode8.pt", "declares a string of 9223372036854775807 bytes")]
    public void EveryMaliciousPickleEndsInExitTwoNamingWhatItRefused(string fixture, string refused)
    {
        foreach (var verb in new[] { "verify", "extract" })
        {
            var run = CliRunner.Run(verb, "--model", Fixture(fixture), "--key", models.OwnerKey);
            Assert.True(run.Code == ExitCodes.Unusable, run.ToString());
            Assert.Contains(refused, run.Err, StringComparison.Ordinal);
            Assert.Contains(fixture, run.Err, StringComparison.Ordinal);
            Assert.Empty(run.Out);
        }

        var inspect = CliRunner.Run("inspect", "--model", Fixture(fixture));
        Assert.True(inspect.Code == ExitCodes.Unusable, inspect.ToString());
    }
}
