using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.Versioning;
using System.Text;
using System.Threading.Tasks;
using Watermark.Formats;
using Xunit;

namespace Watermark.Cli.Tests;

/// <summary>
/// Regression tests for an outside red-team pass over the CLI, key files and model files: each input
/// here once crashed, hung, was misread, or lost or exposed data. Every one must now end in exit code 2
/// with one clear line, quickly, or (for the evasion) refuse the ambiguous file.
/// </summary>
[Collection(TrainedModelsGroup.Name)]
[SupportedOSPlatform("linux")] // pipes, devices, modes and links as Linux has them
public class HardeningTests(TrainedModels models)
{
    private static readonly TimeSpan Quick = TimeSpan.FromSeconds(10);

    // ── 1. Evasion through duplicate names ────────────────────────────────────────────────────────────

    [Fact]
    public void ADatHoldingTheHostTwiceIsRefusedNamingIt()
    {
        // A decoy (an unmarked copy) first, the marked host second: TorchSharp's Module.load keeps the last,
        // a first-match reader the first; the verdict would depend on the reader.
        var marked = ModelFile.Open(models.MarkedDat);
        var clean = ModelFile.Open(models.CleanDat);
        var decoy = clean.Find(TrainedModels.Host);
        var tensors = new List<StoredTensor> { new(decoy.Name, decoy.Shape, decoy.DType, clean.ReadBytes(decoy)) };
        tensors.AddRange(marked.ReadAll());
        var path = models.PathOf($"twice-{Guid.NewGuid():N}.dat");
        File.WriteAllBytes(path, Dat(tensors));

        var run = CliRunner.Run("verify", "--model", path, "--key", models.OwnerKey);
        Assert.True(run.Code == ExitCodes.Unusable, run.ToString());
        Assert.Contains($"two tensors named '{TrainedModels.Host}'", run.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void AnOnnxFileWithTwoGraphsIsRefused()
    {
        // Protobuf merges a repeated singular field: appending a second model appends a second graph.
        var clean = models.PathOf($"clean-{Guid.NewGuid():N}.onnx");
        ModelFile.Write(clean, ModelFormat.Onnx, ModelFile.Open(models.CleanDat).ReadAll());
        var path = models.PathOf($"two-graphs-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, [.. File.ReadAllBytes(models.MarkedOnnx), .. File.ReadAllBytes(clean)]);

        var run = CliRunner.Run("verify", "--model", path, "--key", models.OwnerKey);
        Assert.True(run.Code == ExitCodes.Unusable, run.ToString());
        Assert.Contains("2 graph fields", run.Err, StringComparison.Ordinal);
    }

    // ── 2. Lone surrogate escapes ─────────────────────────────────────────────────────────────────────

    [Fact]
    public void ALoneSurrogateInASafetensorsHeaderIsUnusableInput()
    {
        foreach (var header in new[]
        {
            "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"__metadata__\":{\"a\":\"\\ud800\"}}",
            "{\"w\\udc00\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
            "{\"w\":{\"dtype\":\"\\ud800\",\"shape\":[1],\"data_offsets\":[0,4]}}",
        })
        {
            var path = models.PathOf($"surrogate-{Guid.NewGuid():N}.safetensors");
            File.WriteAllBytes(path, Fixtures.Safetensors(header, new byte[4]));
            var run = CliRunner.Run("inspect", "--model", path);
            Assert.True(run.Code == ExitCodes.Unusable, run.ToString());
            Assert.Contains("lone UTF-16 surrogate", run.Err, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("\"ACME\"", "\"\\ud800\"")]
    [InlineData("\"parameter\"", "\"param\\udfff\"")]
    [InlineData("\"conv2.weight\"", "\"conv2.\\ud83d\"")]
    public void ALoneSurrogateInAnyKeyFieldIsUnusableInputForVerifyAndAppend(string original, string replacement)
    {
        VerifyAndAppendAreRefused(OwnerKeyWith(original, replacement), "lone UTF-16 surrogate");
    }

    // ── 3. Special files ──────────────────────────────────────────────────────────────────────────────

    [Fact]
    public async Task APipeAsModelOrKeyIsRefusedAtOnceWithOrWithoutAWriter()
    {
        var fifo = MakeFifo();
        var asModel = await Timed(() => CliRunner.Run("verify", "--model", fifo, "--key", models.OwnerKey));
        Assert.True(asModel.Code == ExitCodes.Unusable, asModel.ToString());
        Assert.Contains("named pipe", asModel.Err, StringComparison.Ordinal);

        var asKey = await Timed(() => CliRunner.Run("verify", "--model", models.MarkedDat, "--key", fifo));
        Assert.True(asKey.Code == ExitCodes.Unusable, asKey.ToString());
        Assert.Contains("named pipe", asKey.Err, StringComparison.Ordinal);

        // With a writer on the other end (it crashed with NotSupportedException from FileStream.Length).
        using var writer = Process.Start(new ProcessStartInfo("sh", ["-c", $"exec 3>'{fifo}'; sleep 20"]) { UseShellExecute = false })!;
        try
        {
            var written = await Timed(() => CliRunner.Run("inspect", "--model", fifo));
            Assert.True(written.Code == ExitCodes.Unusable, written.ToString());
        }
        finally
        {
            writer.Kill();
        }
    }

    [Fact]
    public async Task DevicesAndLinksToThemAreNeverRead()
    {
        var toRandom = models.PathOf($"random-{Guid.NewGuid():N}.json");
        File.CreateSymbolicLink(toRandom, "/dev/urandom");
        var before = GC.GetTotalAllocatedBytes(precise: true);
        foreach (var key in new[] { "/dev/zero", toRandom })
        {
            var run = await Timed(() => CliRunner.Run("verify", "--model", models.MarkedDat, "--key", key));
            Assert.True(run.Code == ExitCodes.Unusable, run.ToString());
            Assert.Contains("character device", run.Err, StringComparison.Ordinal);
            var model = await Timed(() => CliRunner.Run("inspect", "--model", key, "--format", "dat"));
            Assert.True(model.Code == ExitCodes.Unusable, model.ToString());
        }

        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - before < (64 << 20), "reading devices allocated more than 64 MiB");
    }

    [Fact]
    public async Task ALinkToAHugeFileIsReadNoFurtherThanTheLimit()
    {
        var huge = models.PathOf($"huge-{Guid.NewGuid():N}.bin");
        using (var stream = File.Create(huge))
        {
            stream.SetLength(1L << 31); // sparse: 2 GiB that cost nothing on disk
        }

        File.SetUnixFileMode(huge, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var link = models.PathOf($"link-{Guid.NewGuid():N}.json");
        File.CreateSymbolicLink(link, huge);
        // Counted on the thread that runs the command (verify reads on its own thread): other tests run beside this one.
        long allocated = 0;
        var run = await Timed(() =>
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            var result = CliRunner.Run("verify", "--model", models.MarkedDat, "--key", link);
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            return result;
        });
        Assert.True(run.Code == ExitCodes.Unusable, run.ToString());
        Assert.Contains("more than", run.Err, StringComparison.Ordinal);
        Assert.True(allocated < (80 << 20), $"the key reader read far past its 16 MiB limit: {allocated} bytes allocated");
        File.Delete(huge);
    }

    [Fact]
    public void LinksToRegularFilesWorkAsTheFilesThemselves()
    {
        var model = models.PathOf($"model-link-{Guid.NewGuid():N}.dat");
        var key = models.PathOf($"key-link-{Guid.NewGuid():N}.json");
        File.CreateSymbolicLink(model, models.MarkedDat);
        File.CreateSymbolicLink(key, models.OwnerKey);
        var run = CliRunner.Run("verify", "--model", model, "--key", key);
        Assert.True(run.Code == ExitCodes.Present, run.ToString());
    }

    // ── 4. Absurd shapes in tiny files ────────────────────────────────────────────────────────────────

    [Theory]
    [InlineData(2147483647L)]
    [InlineData(600_000_000L)]
    [InlineData(4294967301L)] // 2^32 + 5: an (int) cast made it 5
    public void ZeroSizeTensorsWithHugeChannelCountsCostNothing(long channels)
    {
        var path = models.PathOf($"absurd-{Guid.NewGuid():N}.dat");
        StoredTensor Empty(string name, long[] shape) => new(name, [.. shape], TensorDType.Float32, Array.Empty<byte>());
        File.WriteAllBytes(path, Dat([Empty("w", [channels, 0, 3, 3]), Empty("b", [channels, 0]), Empty("n.weight", [channels, 0]), Empty("n.bias", [channels, 0]), Empty("n.running_mean", [channels, 0]), Empty("n.running_var", [channels, 0]), Empty("p.weight", [0, 3])]));
        var before = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();
        var output = models.PathOf($"absurd-out-{Guid.NewGuid():N}.dat");
        foreach (var args in new[]
        {
            new[] { "attack", "permute", "--model", path, "--param", "w", "--also", "b:0", "--out", output },
            ["attack", "rescale", "--model", path, "--param", "w", "--axis", "0", "--divide", "b:0", "--out", output],
            ["attack", "quantize", "--model", path, "--param", "w", "--per-channel", "--out", output],
            ["attack", "prune", "--model", path, "--param", "w", "--rate", "0.5", "--out", output],
            ["attack", "outputs", "--model", path, "--param", "w", "--norm", "n", "--scale", "20", "--flip", "0.5", "--out", output],
            ["attack", "clique", "--model", path, "--param", "w", "--producer", "p", "--out", output],
            ["attack", "split", "--model", path, "--param", "w", "--producer", "p", "--out", output],
        })
        {
            var run = CliRunner.Run(args);
            Assert.True(run.Code == ExitCodes.Unusable, run.ToString());
            Assert.Contains("holds no values", run.Err, StringComparison.Ordinal);
            Assert.Contains($"[{channels}, 0, 3, 3]", run.Err, StringComparison.Ordinal);
        }

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - before < (32 << 20), "allocated more than 32 MiB for empty tensors");
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void KeysBeyondTheLimitsAreRefusedBeforeAnyWork()
    {
        // The documented maximum T = 2^20 on M = 256 once cost 1 GB and 20-30 s per slot.
        var key = OwnerKeyWith("\"bits\": 64", "\"bits\": 1048576");
        var clock = Stopwatch.StartNew();
        var run = CliRunner.Run("verify", "--model", models.MarkedDat, "--key", key);
        Assert.True(run.Code == ExitCodes.Unusable, run.ToString());
        Assert.Contains("slots[0].bits", run.Err, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}");
    }

    // ── 5. Lost keys ──────────────────────────────────────────────────────────────────────────────────

    [Fact]
    public void ConcurrentAppendsNeverLoseASlot()
    {
        var key = models.PathOf($"concurrent-{Guid.NewGuid():N}.json");
        File.Copy(models.OwnerKey, key);
        var failures = new List<string>();
        Parallel.For(0, 2, new ParallelOptions { MaxDegreeOfParallelism = 2 }, writer =>
        {
            for (var i = 0; i < 40; i++)
            {
                var run = CliRunner.Run("keygen", "--shape", "32,16,3,3", "--param", $"w{writer}.{i}", "--bits", "16", "--out", key, "--append");
                if (run.Code != 0)
                {
                    lock (failures)
                    {
                        failures.Add(run.ToString());
                    }
                }
            }
        });
        Assert.Empty(failures);
        Assert.Equal(81, Keyring.Load(key).Slots.Length);
    }

    [Fact]
    public async Task ConcurrentAppendsFromSeparateProcessesNeverLoseASlot()
    {
        var key = models.PathOf($"processes-{Guid.NewGuid():N}.json");
        File.Copy(models.OwnerKey, key);
        var program = Path.Combine(AppContext.BaseDirectory, "watermark.dll");
        var writers = Enumerable.Range(0, 2).Select(writer => Task.Run(() =>
        {
            for (var i = 0; i < 5; i++)
            {
                using var process = Process.Start(new ProcessStartInfo("dotnet", [program, "keygen", "--shape", "32,16,3,3", "--param", $"p{writer}.{i}", "--bits", "16", "--out", key, "--append"]) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true })!;
                process.StandardOutput.ReadToEnd();
                var error = process.StandardError.ReadToEnd();
                process.WaitForExit();
                Assert.True(process.ExitCode == 0, error);
            }
        })).ToArray();
        await Task.WhenAll(writers);
        Assert.Equal(11, Keyring.Load(key).Slots.Length);
    }

    // ── 6. Outputs ────────────────────────────────────────────────────────────────────────────────────

    [Fact]
    public void AnExistingOutputIsReplacedOnlyWithForceAndKeepsItsMode()
    {
        var victim = models.PathOf($"victim-{Guid.NewGuid():N}.dat");
        File.WriteAllText(victim, "an unrelated file");
        foreach (var args in new[]
        {
            new[] { "convert", "--model", models.MarkedDat, "--out", victim },
            ["attack", "prune", "--model", models.MarkedDat, "--param", TrainedModels.Host, "--rate", "0.1", "--out", victim],
            ["attack", "permute", "--model", models.MarkedDat, "--param", "conv1.weight", "--also", "conv1.bias:0", "--also", "conv2.weight:1", "--out", victim],
            ["attack", "outputs", "--model", models.MarkedDat, "--param", TrainedModels.Host, "--norm", "bn2", "--flip", "0.5", "--out", victim],
            ["attack", "clique", "--model", models.MarkedDat, "--param", TrainedModels.Host, "--producer", "conv1", "--out", victim],
        })
        {
            var run = CliRunner.Run(args);
            Assert.True(run.Code == ExitCodes.Unusable, run.ToString());
            Assert.Contains("--force", run.Err, StringComparison.Ordinal);
            Assert.Equal("an unrelated file", File.ReadAllText(victim));
        }

        // In place, on a private model: the copy stays private.
        var model = models.PathOf($"private-{Guid.NewGuid():N}.dat");
        File.Copy(models.MarkedDat, model);
        File.SetUnixFileMode(model, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var inPlace = CliRunner.Run("attack", "noise", "--model", model, "--param", TrainedModels.Host, "--sigma", "0.01", "--out", model, "--force");
        Assert.True(inPlace.Code == 0, inPlace.ToString());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(model));
        Assert.NotEqual(File.ReadAllBytes(models.MarkedDat), File.ReadAllBytes(model));
    }

    [Fact]
    public async Task PipesAndLinksAreNeverReplacedByAnOutput()
    {
        var fifo = MakeFifo();
        var link = models.PathOf($"out-link-{Guid.NewGuid():N}.dat");
        var target = models.PathOf($"out-target-{Guid.NewGuid():N}.dat");
        File.WriteAllText(target, "kept");
        File.CreateSymbolicLink(link, target);
        foreach (var output in new[] { fifo, link })
        {
            foreach (var force in new[] { false, true })
            {
                string[] args = ["convert", "--model", models.MarkedDat, "--out", output, .. force ? new[] { "--force" } : []];
                var run = await Timed(() => CliRunner.Run(args));
                Assert.True(run.Code == ExitCodes.Unusable, run.ToString());
            }
        }

        Assert.Equal("p", FileKindOf(fifo));
        Assert.NotNull(new FileInfo(link).LinkTarget);
        Assert.Equal("kept", File.ReadAllText(target));
    }

    // ── 8. Key files ──────────────────────────────────────────────────────────────────────────────────

    [Fact]
    public void AKeyFileOpenToOthersIsRefusedWithTheFix()
    {
        var key = models.PathOf($"shared-{Guid.NewGuid():N}.json");
        File.Copy(models.OwnerKey, key);
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var run = CliRunner.Run("verify", "--model", models.MarkedDat, "--key", key);
        Assert.True(run.Code == ExitCodes.Unusable, run.ToString());
        Assert.Contains("mode 644", run.Err, StringComparison.Ordinal);
        Assert.Contains($"chmod 600 {key}", run.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"version\": 1,", "\"version\": 2, \"version\": 1,")]
    [InlineData("\"bits\": 64,", "\"bits\": 64, \"bits\": 64,")]
    public void RepeatedJsonKeysAreRefused(string original, string replacement)
    {
        var key = OwnerKeyWith(original, replacement);
        VerifyAndAppendAreRefused(key, "appears twice");
        Assert.Contains(replacement, File.ReadAllText(key), StringComparison.Ordinal); // the append never rewrote it
    }

    [Fact]
    public void AFolderAsKeyIsCalledAFolder()
    {
        var run = CliRunner.Run("verify", "--model", models.MarkedDat, "--key", models.Folder);
        Assert.True(run.Code == ExitCodes.Unusable, run.ToString());
        Assert.Contains("is a folder", run.Err, StringComparison.Ordinal);
    }

    // ── 9. Terminal output ────────────────────────────────────────────────────────────────────────────

    [Fact]
    public void ControlCharactersFromFilesNeverReachTheTerminal()
    {
        var hostile = "conv\u001b]0;pwned\u0007\u001b[2J\r\u202eweight";
        var path = models.PathOf($"escape-{Guid.NewGuid():N}.dat");
        var marked = ModelFile.Open(models.MarkedDat);
        var host = marked.Find(TrainedModels.Host);
        File.WriteAllBytes(path, Dat([new StoredTensor(hostile, host.Shape, host.DType, marked.ReadBytes(host))]));

        var inspect = CliRunner.Run("inspect", "--model", path);
        var missing = CliRunner.Run("verify", "--model", path, "--key", models.OwnerKey);
        Assert.Equal(ExitCodes.Unusable, missing.Code);
        foreach (var text in new[] { inspect.Out, inspect.Err, missing.Out, missing.Err })
        {
            Assert.DoesNotContain(text, c => TerminalWriter.IsUnsafe(c));
        }

        Assert.Contains("conv\\x1B]0;pwned\\x07\\x1B[2J\\x0D\\u202Eweight", inspect.Out, StringComparison.Ordinal);
        Assert.Contains("\\x1B", missing.Err, StringComparison.Ordinal);
    }

    // ── 11. Smaller ───────────────────────────────────────────────────────────────────────────────────

    [Fact]
    public void AnEmptyModelIsUnusableInputEvenWhenLarge()
    {
        var path = models.PathOf($"zeros-{Guid.NewGuid():N}.dat");
        using (var stream = File.Create(path))
        {
            stream.SetLength(2L << 30); // 2 GiB of zeros, sparse: the count at the start says 0 tensors
        }

        var clock = Stopwatch.StartNew();
        foreach (var verb in new[] { "inspect", "verify" })
        {
            var run = verb == "inspect" ? CliRunner.Run("inspect", "--model", path) : CliRunner.Run("verify", "--model", path, "--key", models.OwnerKey);
            Assert.True(run.Code == ExitCodes.Unusable, run.ToString());
            Assert.Contains("holds no tensors", run.Err, StringComparison.Ordinal);
        }

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        File.Delete(path);
    }

    [Theory]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "overlap")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, "no tensor indexes")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 12, "after the last tensor")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"__metadata__\":{\"n\":1}}", 4, "__metadata__")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"__metadata__\":[]}", 4, "__metadata__")]
    public void SafetensorsThatBreakTheFormatsRulesAreRefused(string header, int dataBytes, string expected)
    {
        var e = Assert.Throws<ModelFormatException>(() => ModelFile.Read(Fixtures.Safetensors(header, new byte[dataBytes]), "crafted.safetensors"));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    // ── helpers ───────────────────────────────────────────────────────────────────────────────────────

    // Both readers of a key file, verify and keygen --append, end in exit 2 naming the problem.
    private void VerifyAndAppendAreRefused(string key, string problem)
    {
        var verify = CliRunner.Run("verify", "--model", models.MarkedDat, "--key", key);
        Assert.True(verify.Code == ExitCodes.Unusable, verify.ToString());
        Assert.Contains(problem, verify.Err, StringComparison.Ordinal);
        var append = CliRunner.Run("keygen", "--shape", "16,3,3,3", "--param", "conv1.weight", "--bits", "16", "--out", key, "--append");
        Assert.True(append.Code == ExitCodes.Unusable, append.ToString());
        Assert.Contains(problem, append.Err, StringComparison.Ordinal);
    }

    private string OwnerKeyWith(string original, string replacement)
    {
        var text = File.ReadAllText(models.OwnerKey);
        Assert.Contains(original, text, StringComparison.Ordinal);
        var path = models.PathOf($"edited-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, text.Replace(original, replacement, StringComparison.Ordinal));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    private string MakeFifo()
    {
        var fifo = models.PathOf($"fifo-{Guid.NewGuid():N}");
        using var process = Process.Start(new ProcessStartInfo("mkfifo", [fifo]) { UseShellExecute = false })!;
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
        return fifo;
    }

    private static string FileKindOf(string path)
    {
        using var process = Process.Start(new ProcessStartInfo("stat", ["-c", "%A", path]) { UseShellExecute = false, RedirectStandardOutput = true })!;
        var mode = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return mode[..1];
    }

    private static async Task<CliRun> Timed(Func<CliRun> run)
    {
        try
        {
            return await Task.Run(run).WaitAsync(Quick);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"the command did not end within {Quick.TotalSeconds} s (a hang)");
            throw;
        }
    }

    // TorchSharp's .dat layout, written by hand so that a test can repeat a name (ModelFile.Write refuses to).
    private static byte[] Dat(List<StoredTensor> tensors)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, new UTF8Encoding(false), leaveOpen: true))
        {
            Leb128(writer, tensors.Count);
            foreach (var tensor in tensors)
            {
                writer.Write(tensor.Name);
                Leb128(writer, 6); // float32
                Leb128(writer, tensor.Shape.Length);
                foreach (var d in tensor.Shape)
                {
                    Leb128(writer, d);
                }

                writer.Write(tensor.Data.Span);
            }
        }

        return buffer.ToArray();
    }

    private static void Leb128(BinaryWriter writer, long value)
    {
        var v = (ulong)value;
        while (v >= 0x80)
        {
            writer.Write((byte)(v | 0x80));
            v >>= 7;
        }

        writer.Write((byte)v);
    }
}
