using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using Xunit;

namespace Watermark.Cli.Tests;

/// <summary>
/// Bad arguments are parse errors: exit 2, one line naming the option and what it takes, and no file
/// opened — a missing model is not reported, and a pipe or device given as one is never touched.
/// </summary>
public sealed class ArgumentTests : IDisposable
{
    private static readonly TimeSpan Quick = TimeSpan.FromSeconds(30);

    private readonly string folder = Directory.CreateTempSubdirectory("wmk-arguments-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Theory]
    [InlineData("--alpha", "0", "verify", "--key", "KEY")]
    [InlineData("--alpha", "1", "verify", "--key", "KEY")]
    [InlineData("--alpha", "NaN", "verify", "--key", "KEY")]
    [InlineData("--alpha", "1e-6x", "verify", "--key", "KEY")]
    [InlineData("--format", "pt", "verify", "--key", "KEY")]
    [InlineData("--format", "pt", "extract", "--key", "KEY")]
    [InlineData("--format", "pt", "inspect")]
    [InlineData("--to", "pt", "convert", "--out", "OUT")]
    [InlineData("--bits", "0", "keygen", "--param", "conv2.weight", "--out", "OUT")]
    [InlineData("--bits", "70000", "keygen", "--param", "conv2.weight", "--out", "OUT")]
    [InlineData("--strength", "-0.01", "keygen", "--param", "conv2.weight", "--out", "OUT")]
    [InlineData("--kind", "gaussian", "keygen", "--param", "conv2.weight", "--out", "OUT")]
    [InlineData("--ecc", "bch:59", "keygen", "--param", "conv2.weight", "--out", "OUT")]
    [InlineData("--message", "", "keygen", "--param", "conv2.weight", "--out", "OUT")]
    [InlineData("--rate", "1.5", "attack", "prune", "--param", "conv2.weight", "--out", "OUT")]
    [InlineData("--rate", "-0.1", "attack", "prune", "--param", "conv2.weight", "--out", "OUT")]
    [InlineData("--order", "sideways", "attack", "prune", "--rate", "0.5", "--param", "conv2.weight", "--out", "OUT")]
    [InlineData("--seed", "1.5", "attack", "prune", "--rate", "0.5", "--param", "conv2.weight", "--out", "OUT")]
    [InlineData("--bits", "17", "attack", "quantize", "--param", "conv2.weight", "--out", "OUT")]
    [InlineData("--sigma", "Infinity", "attack", "noise", "--param", "conv2.weight", "--out", "OUT")]
    [InlineData("--shift", "-1", "attack", "shift", "--param", "conv2.weight", "--out", "OUT")]
    [InlineData("--range", "0.5", "attack", "rescale", "--divide", "bn2.weight:0", "--param", "conv2.weight", "--out", "OUT")]
    [InlineData("--divide", "bn2.weight", "attack", "rescale", "--param", "conv2.weight", "--out", "OUT")]
    [InlineData("--axis", "-1", "attack", "permute", "--param", "conv2.weight", "--out", "OUT")]
    [InlineData("--also", "conv1.bias:x", "attack", "permute", "--param", "conv2.weight", "--out", "OUT")]
    [InlineData("--flip", "1.5", "attack", "outputs", "--norm", "bn2", "--param", "conv2.weight", "--out", "OUT")]
    [InlineData("--scale", "0.5", "attack", "outputs", "--norm", "bn2", "--param", "conv2.weight", "--out", "OUT")]
    [InlineData("--eps", "-1", "attack", "outputs", "--norm", "bn2", "--flip", "0.5", "--param", "conv2.weight", "--out", "OUT")]
    [InlineData("--next", "conv3.weight", "attack", "outputs", "--norm", "bn2", "--permute", "--param", "conv2.weight", "--out", "OUT")]
    [InlineData("--count", "1", "attack", "clique", "--producer", "conv1", "--param", "conv2.weight", "--out", "OUT")]
    [InlineData("--count", "0", "attack", "split", "--producer", "conv1", "--param", "conv2.weight", "--out", "OUT")]
    public async Task ABadValueIsReportedBeforeAnyFileIsOpened(string option, string value, params string[] verb)
    {
        var missing = Path.Combine(folder, "no-such-model.dat");
        var fifo = MakeFifo();
        foreach (var model in new[] { missing, fifo, "/dev/zero" })
        {
            var run = await Timed(() => CliRunner.Run([.. Fill(verb, fifo), "--model", model, option, value]));
            Assert.True(run.Code == ExitCodes.Unusable, run.ToString());
            Assert.Empty(run.Out);
            var error = Assert.Single(run.Err.Split('\n'), line => line.StartsWith("watermark: error: ", StringComparison.Ordinal));
            Assert.Contains(option, error, StringComparison.Ordinal);
            Assert.Contains("Run 'watermark ", run.Err, StringComparison.Ordinal);
            foreach (var sign in new[] { "not found", "named pipe", "character device", model })
            {
                Assert.DoesNotContain(sign, run.Err, StringComparison.Ordinal);
            }
        }

        Assert.Equal(["fifo"], Directory.GetFileSystemEntries(folder).Select(Path.GetFileName));
    }

    [Fact]
    public void AnOptionsErrorNamesItAndWhatItTakesOnOneLine()
    {
        var run = CliRunner.Run("keygen", "--shape", "32,16,3,3", "--param", "conv2.weight", "--kind", "gaussian", "--out", Path.Combine(folder, "k.json"));
        Assert.Equal(ExitCodes.Unusable, run.Code);
        Assert.StartsWith("watermark: error: --kind: Argument 'gaussian' not recognized. Must be one of: 'random' 'direct' 'diff'\n", run.Err, StringComparison.Ordinal);

        var number = CliRunner.Run("verify", "--model", "m.dat", "--key", "k.json", "--alpha", "0");
        Assert.StartsWith("watermark: error: --alpha must lie strictly between 0 and 1 (e.g. 1e-6); '0' was given.\n", number.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("verify", "--modle", "--model")]
    [InlineData("verify", "--kye", "--key")]
    [InlineData("attack", "prnue", "prune")]
    [InlineData("attack", "quantise", "quantize")]
    public void AMistypedVerbOrOptionGetsTheClosestOne(string verb, string typo, string meant)
    {
        var run = CliRunner.Run(verb, typo, "x");
        Assert.Equal(ExitCodes.Unusable, run.Code);
        Assert.Contains($"'{typo}' was not matched. Did you mean one of the following?\n{meant}\n", run.Err, StringComparison.Ordinal);
        Assert.Contains($"Run 'watermark {verb} --help' for usage.", run.Err, StringComparison.Ordinal);
        Assert.Empty(run.Out);
    }

    [Theory]
    [InlineData("bch:59,40", "carries K = 40 bits but the message has 32")]
    [InlineData("bch:123,32", "needs 123 bits but the slot carries only 64")]
    [InlineData("bch:61,32", "no binary BCH code")]
    public async Task KeygenChecksTheCodeAgainstTheMessageBeforeReadingTheModel(string ecc, string expected)
    {
        var fifo = MakeFifo();
        var key = Path.Combine(folder, "k.json");
        var run = await Timed(() => CliRunner.Run("keygen", "--model", fifo, "--param", "conv2.weight", "--bits", "64", "--message", "ACME", "--ecc", ecc, "--out", key));
        Assert.True(run.Code == ExitCodes.Unusable, run.ToString());
        Assert.Contains(expected, run.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("named pipe", run.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(key));
    }

    [Fact]
    public async Task KeygenChecksTheMessageLengthBeforeReadingTheModel()
    {
        var run = await Timed(() => CliRunner.Run("keygen", "--model", MakeFifo(), "--param", "conv2.weight", "--bits", "16", "--message", "ACME", "--ecc", "none", "--out", Path.Combine(folder, "k.json")));
        Assert.True(run.Code == ExitCodes.Unusable, run.ToString());
        Assert.Contains("--message has 32 bits but the slot carries only 16", run.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void AParameterGivenTwiceIsAParseError()
    {
        var run = CliRunner.Run("keygen", "--model", "m.dat", "--param", "conv2.weight", "--param", "conv2.weight", "--out", Path.Combine(folder, "k.json"));
        Assert.Equal(ExitCodes.Unusable, run.Code);
        Assert.Contains("--param 'conv2.weight' is given twice", run.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("not found", run.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void TheExitCodesKeepTheirNumbers()
    {
        Assert.Equal(0, ExitCodes.Success);
        Assert.Equal(0, ExitCodes.Present);
        Assert.Equal(1, ExitCodes.Absent);
        Assert.Equal(2, ExitCodes.Unusable);
        Assert.Equal(ExitCodes.Success, CliRunner.Run("--help").Code);
    }

    // KEY and OUT stand for a key file (a pipe, so reading it would hang) and an output path in the test folder.
    private string[] Fill(string[] verb, string fifo) =>
        [.. verb.Select(a => a switch { "KEY" => fifo, "OUT" => Path.Combine(folder, "out.dat"), _ => a })];

    private string MakeFifo()
    {
        var fifo = Path.Combine(folder, "fifo");
        if (!File.Exists(fifo))
        {
            using var process = Process.Start(new ProcessStartInfo("mkfifo", [fifo]) { UseShellExecute = false })!;
            process.WaitForExit();
            Assert.Equal(0, process.ExitCode);
        }

        return fifo;
    }

    private static async Task<CliRun> Timed(Func<CliRun> run)
    {
        try
        {
            return await Task.Run(run).WaitAsync(Quick);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"the command did not end within {Quick.TotalSeconds} s (it read a pipe)");
            throw;
        }
    }
}
