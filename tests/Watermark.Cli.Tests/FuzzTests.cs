using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using Watermark.Formats;
using Xunit;
using Xunit.Abstractions;

namespace Watermark.Cli.Tests;

/// <summary>
/// Bounded mutation fuzzing of the four readers: truncations, bit flips, absurd sizes, wrong magic,
/// insertions and deletions of valid files. Every outcome must be a successful read or a
/// <see cref="ModelFormatException"/> — never another exception, never a hang. Inputs that break
/// that rule are saved under Corpus/ and replayed by <see cref="CorpusTests"/>.
/// </summary>
public class FuzzTests(ITestOutputHelper output)
{
    private const int CasesPerFormat = 100_000;
    private const int MaxSavedPerRun = 10;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);

    [Theory]
    [InlineData(ModelFormat.TorchSharpDat)]
    [InlineData(ModelFormat.Safetensors)]
    [InlineData(ModelFormat.Onnx)]
    [InlineData(ModelFormat.PyTorchCheckpoint)]
    public void MutatedFilesEndInSuccessOrTheTypedException(ModelFormat format)
    {
        var seeds = Seeds(format);
        foreach (var seed in seeds)
        {
            Assert.Null(Outcome(seed, format, detect: false));
        }

        var failures = new List<string>();
        byte[]? current = null;
        var cases = 0;
        var rejected = 0;
        var watch = Stopwatch.StartNew();
        Exception? crash = null;
        var worker = new Thread(() =>
        {
            try
            {
                Run();
            }
            catch (Exception e)
            {
                crash = e;
            }
        });
        void Run()
        {
            var random = new Random(1234 + (int)format);
            for (var i = 0; i < CasesPerFormat; i++)
            {
                var input = Mutate(seeds[random.Next(seeds.Count)], random);
                current = input;
                var problem = Outcome(input, format, detect: i % 4 == 0);
                if (problem == "rejected")
                {
                    rejected++;
                }
                else if (problem is not null)
                {
                    failures.Add(failures.Count < MaxSavedPerRun ? $"{Corpus.Save(format, input)}: {problem}" : problem);
                }

                cases++;
            }
        }

        worker.Start();
        if (!worker.Join(Limit))
        {
            var saved = current is null ? "(none)" : Corpus.Save(format, current);
            Assert.Fail($"The {format} reader did not finish {CasesPerFormat} cases in {Limit.TotalSeconds} s (at case {cases}); the last input, a likely hang, is saved as {saved}.");
        }

        Assert.Null(crash);
        output.WriteLine($"{format}: {cases} cases in {watch.Elapsed.TotalSeconds:0.0} s, {rejected} rejected with ModelFormatException, {cases - rejected - failures.Count} read");
        Assert.True(failures.Count == 0, $"{failures.Count} inputs broke the reader:{Environment.NewLine}{string.Join(Environment.NewLine, failures.Take(MaxSavedPerRun))}");
        Assert.Equal(CasesPerFormat, cases);
        Assert.InRange(rejected, CasesPerFormat / 10, CasesPerFormat);
    }

    /// <summary>Null when the input was read in full, "rejected" for the typed exception, otherwise the unexpected exception.</summary>
    internal static string? Outcome(byte[] input, ModelFormat format, bool detect)
    {
        try
        {
            var file = detect
                ? ModelFile.Read(input, "fuzz" + Extension(format))
                : ModelFile.Read(input, "fuzz", format);
            foreach (var entry in file.Tensors)
            {
                if (entry.DType.IsReal())
                {
                    file.ReadFloat32(entry);
                }
                else if (entry.DType != TensorDType.Unsupported)
                {
                    file.ReadBytes(entry);
                }
            }

            return null;
        }
        catch (ModelFormatException)
        {
            return "rejected";
        }
        catch (Exception e)
        {
            return $"{e.GetType().Name}: {e.Message}";
        }
    }

    internal static string Extension(ModelFormat format) => format switch
    {
        ModelFormat.TorchSharpDat => ".dat",
        ModelFormat.Safetensors => ".safetensors",
        ModelFormat.PyTorchCheckpoint => ".pt",
        _ => ".onnx",
    };

    private static List<byte[]> Seeds(ModelFormat format)
    {
        if (format == ModelFormat.PyTorchCheckpoint)
        {
            // Written by torch.save (eng/fixtures/make_pytorch_fixtures.py): plain, nested with an optimizer's
            // state, strided views, nn.Parameters, float16 and a DataParallel save.
            string[] names = ["plain.pt", "training.ckpt", "views.pt", "parameters.pt", "half.bin", "dataparallel.pth"];
            return [.. names.Select(n => File.ReadAllBytes(PyTorchCheckpointTests.Fixture(n)))];
        }

        var weight = Enumerable.Range(0, 4 * 2 * 3 * 3).Select(i => (float)Math.Sin(i)).ToArray();
        var tensors = new List<StoredTensor>
        {
            new("conv.weight", [4, 2, 3, 3], TensorDType.Float32, Fixtures.Floats(weight)),
            new("conv.bias", [4], TensorDType.Float32, Fixtures.Floats([1, 2, 3, 4])),
            new("bn.num_batches_tracked", [], TensorDType.Int64, BitConverter.GetBytes(7L)),
            new("half", [2, 2], TensorDType.Float16, new byte[8]),
        };
        var path = Path.Combine(Path.GetTempPath(), $"wmk-fuzz-{Guid.NewGuid():N}{Extension(format)}");
        try
        {
            ModelFile.Write(path, format, tensors);
            var seeds = new List<byte[]> { File.ReadAllBytes(path) };
            if (format == ModelFormat.Safetensors)
            {
                seeds.Add(Fixtures.Safetensors("""{"__metadata__":{"k":"v"},"a":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},"b":{"dtype":"BF16","shape":[1,2],"data_offsets":[16,20]}}""", new byte[20]));
            }
            else if (format == ModelFormat.Onnx)
            {
                seeds.Add(Fixtures.OnnxModel(
                    Fixtures.OnnxFloatDataTensor("w", [2, 3], [1, 2, 3, 4, 5, 6]),
                    Fixtures.OnnxRawTensor("d", [2], 11, new byte[16])));
            }

            return seeds;
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static byte[] Mutate(byte[] seed, Random random)
    {
        var bytes = seed.ToList();
        var rounds = 1 + random.Next(3);
        for (var round = 0; round < rounds && bytes.Count > 0; round++)
        {
            switch (random.Next(8))
            {
                case 0: // truncation
                    var cut = random.Next(bytes.Count);
                    bytes.RemoveRange(cut, bytes.Count - cut);
                    break;
                case 1: // bit flips
                    for (var k = 1 + random.Next(4); k > 0 && bytes.Count > 0; k--)
                    {
                        var at = random.Next(bytes.Count);
                        bytes[at] ^= (byte)(1 << random.Next(8));
                    }

                    break;
                case 2: // random bytes
                    for (var k = 1 + random.Next(8); k > 0; k--)
                    {
                        bytes[random.Next(bytes.Count)] = (byte)random.Next(256);
                    }

                    break;
                case 3: // absurd sizes: a huge varint or little-endian integer over a random spot
                    var spot = random.Next(bytes.Count);
                    byte[] absurd = random.Next(3) switch
                    {
                        0 => [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
                        1 => BitConverter.GetBytes(long.MaxValue - random.Next(1000)),
                        _ => BitConverter.GetBytes((uint)random.Next()),
                    };
                    for (var k = 0; k < absurd.Length && spot + k < bytes.Count; k++)
                    {
                        bytes[spot + k] = absurd[k];
                    }

                    break;
                case 4: // wrong magic: the first bytes replaced
                    for (var k = 0; k < Math.Min(bytes.Count, 1 + random.Next(9)); k++)
                    {
                        bytes[k] = (byte)random.Next(256);
                    }

                    break;
                case 5: // insertion
                    var insert = new byte[1 + random.Next(16)];
                    random.NextBytes(insert);
                    bytes.InsertRange(random.Next(bytes.Count + 1), insert);
                    break;
                case 6: // deletion
                    var from = random.Next(bytes.Count);
                    bytes.RemoveRange(from, Math.Min(bytes.Count - from, 1 + random.Next(16)));
                    break;
                default: // a chunk copied elsewhere
                    var start = random.Next(bytes.Count);
                    var chunk = bytes.GetRange(start, Math.Min(bytes.Count - start, 1 + random.Next(32)));
                    bytes.InsertRange(random.Next(bytes.Count + 1), chunk);
                    break;
            }
        }

        return [.. bytes];
    }
}

/// <summary>
/// Corpus/: inputs the fuzzer once found breaking a reader (named by hash), which must now end in
/// success or the typed exception, and malformed files built by hand from each format's spec
/// (named <c>*-malformed-*</c>), which must be rejected — through the command, with exit code 2.
/// </summary>
public class CorpusTests
{
    [Fact]
    public void EveryHandBuiltMalformedFileIsUnusable()
    {
        var files = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Corpus"), "*-malformed-*");
        Assert.True(files.Length >= 20, $"{files.Length} hand-built cases");
        foreach (var file in files)
        {
            var run = CliRunner.Run("inspect", "--model", file);
            Assert.True(run.Code == ExitCodes.Unusable, $"{Path.GetFileName(file)}: {run}");
            Assert.Single(run.Err.TrimEnd('\n').Split('\n'));
            Assert.Contains(file, run.Err, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task EverySavedInputEndsInSuccessOrTheTypedException()
    {
        var files = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Corpus"));
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var format = ModelFile.FormatFromExtension(file);
            Assert.True(format is not null, $"{file} has no model extension");
            // A kept hang must fail the test, not hang it.
            var outcome = Task.Run(() => FuzzTests.Outcome(File.ReadAllBytes(file), format!.Value, detect: false));
            string? problem;
            try
            {
                problem = await outcome.WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (TimeoutException)
            {
                problem = "no outcome within 10 s (a hang)";
            }

            Assert.True(problem is null or "rejected", $"{Path.GetFileName(file)}: {problem}");
        }
    }
}

internal static class Corpus
{
    private static readonly object Gate = new();

    /// <summary>Saves an input under the test project's Corpus folder (the source tree), named by its hash.</summary>
    public static string Save(ModelFormat format, byte[] input)
    {
        var folder = SourceFolder();
        var name = $"{format.ToString().ToLowerInvariant()}-{Convert.ToHexStringLower(SHA256.HashData(input))[..12]}{FuzzTests.Extension(format)}";
        lock (Gate)
        {
            Directory.CreateDirectory(folder);
            File.WriteAllBytes(Path.Combine(folder, name), input);
        }

        return Path.Combine(folder, name);
    }

    private static string SourceFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Watermark.Cli.Tests.csproj")))
            {
                return Path.Combine(dir.FullName, "Corpus");
            }
        }

        return Path.Combine(AppContext.BaseDirectory, "Corpus");
    }
}
