using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using SharpFuzz;
using Watermark.Formats;

namespace Watermark.Fuzz;

/// <summary>
/// The fuzzing harness behind eng/fuzz.sh. Three modes:
/// <list type="bullet">
/// <item><c>TARGET</c>: under afl-fuzz, SharpFuzz's out-of-process fork server runs each input through the
/// target (a child process does the work, so a hang or a stack overflow does not end the session).</item>
/// <item><c>replay TARGET [--timeout-ms N] FILE...</c>: runs each file once, outside afl-fuzz, and prints
/// one tab-separated line per file (status, milliseconds, format, signature), with the whole exception
/// on stderr; exit code 1 when any input crashed, 2 when one hung (the process stops there).</item>
/// <item><c>seeds TARGET DIR</c>: writes valid inputs, made with the library's own writers.</item>
/// </list>
/// A target's contract: every failure of a model reader is a <see cref="ModelFormatException"/>, every
/// failure of the key-file parser a <see cref="KeyFileException"/>; anything else escaping is a crash.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length == 1 && Target.Find(args[0]) is { } target)
        {
            Fuzzer.OutOfProcess.Run(stream => target.Run(ReadAll(stream)));
            return 0;
        }

        // Outside afl-fuzz the instrumented library still records its edges: give it a map to write to.
        TraceMap();

        if (args.Length >= 3 && args[0] == "replay" && Target.Find(args[1]) is { } replayed)
        {
            return Replay(replayed, args[2..]);
        }

        if (args.Length == 3 && args[0] == "seeds" && Target.Find(args[1]) is { } seeded)
        {
            Directory.CreateDirectory(args[2]);
            foreach (var (name, content) in seeded.Seeds())
            {
                File.WriteAllBytes(Path.Combine(args[2], name), content);
            }

            return 0;
        }

        Console.Error.WriteLine($"""
            usage: Watermark.Fuzz TARGET                                (under afl-fuzz; eng/fuzz.sh runs it)
                   Watermark.Fuzz replay TARGET [--timeout-ms N] FILE...
                   Watermark.Fuzz seeds TARGET DIR
            TARGET: {string.Join(" | ", Target.All.Select(t => t.Name))}
            """);
        return 64;
    }

    private static unsafe void TraceMap() =>
        SharpFuzz.Common.Trace.SharedMem = (byte*)NativeMemory.AllocZeroed(1 << 16);

    private static byte[] ReadAll(Stream stream)
    {
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray();
    }

    private static int Replay(Target target, string[] args)
    {
        var timeout = TimeSpan.FromSeconds(10);
        var files = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--timeout-ms" && i + 1 < args.Length)
            {
                timeout = TimeSpan.FromMilliseconds(int.Parse(args[++i], CultureInfo.InvariantCulture));
            }
            else
            {
                files.Add(args[i]);
            }
        }

        var code = 0;
        foreach (var file in files)
        {
            var input = File.ReadAllBytes(file);
            var format = target.FormatOf(input);
            Exception? crash = null;
            var rejected = false;
            var watch = Stopwatch.StartNew();
            // A worker thread, so the watchdog below can report a hang, with the main thread's stack (8 MiB on
            // Linux), where afl-fuzz ran the input; a stack overflow ends the process, as it did there.
            var worker = new Thread(
                () =>
                {
                    try
                    {
                        rejected = target.Run(input) == Outcome.Rejected;
                    }
#pragma warning disable CA1031 // Every exception that escapes the target is what this mode reports.
                    catch (Exception e)
#pragma warning restore CA1031
                    {
                        crash = e;
                    }
                },
                maxStackSize: 8 << 20)
            {
                IsBackground = true, // a hung input must not keep the process alive
            };
            worker.Start();
            if (!worker.Join(timeout))
            {
                Console.WriteLine($"RESULT\t{file}\thang\t{watch.ElapsedMilliseconds}\t{format}\thang@{target.Name}");
                Console.Out.Flush();
                Environment.Exit(2);
            }

            var status = crash is not null ? "crash" : rejected ? "rejected" : "ok";
            var signature = crash is null ? "-" : Signature(crash);
            Console.WriteLine($"RESULT\t{file}\t{status}\t{watch.ElapsedMilliseconds}\t{format}\t{signature}");
            if (crash is not null)
            {
                Console.Error.WriteLine($"=== {file}: {format}, {input.Length} bytes");
                Console.Error.WriteLine(crash);
                code = 1;
            }
        }

        return code;
    }

    /// <summary>The exception's type and the innermost frame in the library: one bug, whatever input reaches it.</summary>
    private static string Signature(Exception e)
    {
        var frames = new StackTrace(e, fNeedFileInfo: false).GetFrames();
        var frame = frames.Select(f => f.GetMethod()).FirstOrDefault(m =>
            m?.DeclaringType?.Namespace is { } ns
            && ns.StartsWith("Watermark", StringComparison.Ordinal)
            && !ns.StartsWith("Watermark.Fuzz", StringComparison.Ordinal));
        var where = frame is null ? "?" : $"{frame.DeclaringType!.FullName}.{frame.Name}";
        return $"{e.GetType().Name}@{where}";
    }
}

internal enum Outcome
{
    Read,
    Rejected,
}

/// <summary>One fuzzing target: how an input is run, and valid inputs to start from.</summary>
internal sealed class Target
{
    private static readonly string[] DetectNames = ["fuzz.dat", "fuzz.safetensors", "fuzz.onnx", "fuzz.pt"];

    private Target(string name, ModelFormat? format)
    {
        Name = name;
        Format = format;
    }

    public static ImmutableArray<Target> All { get; } =
    [
        new("dat", ModelFormat.TorchSharpDat),
        new("safetensors", ModelFormat.Safetensors),
        new("onnx", ModelFormat.Onnx),
        new("pytorch", ModelFormat.PyTorchCheckpoint),
        new("detect", null),
        new("keyfile", null),
    ];

    public string Name { get; }

    /// <summary>The reader's format; null for detection (and for the key file).</summary>
    public ModelFormat? Format { get; }

    private bool IsKeyFile => Name == "keyfile";

    public static Target? Find(string name) => All.FirstOrDefault(t => t.Name == name);

    /// <summary>
    /// The name the reader is given. Detection looks at the safetensors header first and then at the
    /// extension; the extension follows the input's length, so one input always takes the same path.
    /// </summary>
    private string SourceOf(byte[] input) => IsKeyFile ? "fuzz.json"
        : Format is null ? DetectNames[input.Length % DetectNames.Length]
        : "fuzz";

    /// <summary>The format the reader treats the input as: what detection decides for <c>detect</c>.</summary>
    public string FormatOf(byte[] input)
    {
        if (IsKeyFile)
        {
            return "keyfile";
        }

        var format = Format ?? ModelFile.Detect(SourceOf(input), input.AsSpan(0, Math.Min(input.Length, 9)), input.Length);
        return format?.ToString() ?? "unknown";
    }

    public Outcome Run(byte[] input) => IsKeyFile ? RunKeyFile(input) : RunModel(input);

    private Outcome RunModel(byte[] input)
    {
        try
        {
            var file = ModelFile.Read(input, SourceOf(input), Format);
            foreach (var entry in file.Tensors)
            {
                if (entry.DType.IsReal())
                {
                    _ = file.ReadFloat32(entry); // reads the bytes, then converts
                }
                else
                {
                    _ = file.ReadBytes(entry);
                }
            }

            return Outcome.Read;
        }
        catch (ModelFormatException)
        {
            return Outcome.Rejected;
        }
    }

    private static Outcome RunKeyFile(byte[] input)
    {
        Keyring keyring;
        try
        {
            keyring = Keyring.Parse(input, "fuzz.json");
        }
        catch (KeyFileException)
        {
            return Outcome.Rejected;
        }

        // A parsed key must be usable: its bits and X are derived lazily, from sizes the file declared.
        foreach (var slot in keyring.Slots)
        {
            _ = slot.TargetBits().Length;
            _ = slot.ProjectionMatrix().Length;
        }

        return Outcome.Read;
    }

    /// <summary>Valid inputs written by the library itself: every element type, scalars, several tensors.</summary>
    public IEnumerable<(string Name, byte[] Content)> Seeds()
    {
        if (IsKeyFile)
        {
            return KeyFileSeeds();
        }

        // None for PyTorch checkpoints (the library writes no pickles): eng/fuzz.sh adds torch.save's fixtures.
        var formats = Format is { } only ? [only] : new[] { ModelFormat.TorchSharpDat, ModelFormat.Safetensors, ModelFormat.Onnx };
        return formats.SelectMany(ModelSeeds);
    }

    private static List<(string, byte[])> ModelSeeds(ModelFormat format)
    {
        var extension = format switch
        {
            ModelFormat.TorchSharpDat => ".dat",
            ModelFormat.Safetensors => ".safetensors",
            _ => ".onnx",
        };
        var weight = Enumerable.Range(0, 4 * 2 * 3 * 3).Select(i => (float)Math.Sin(i)).ToArray();
        StoredTensor[][] sets =
        [
            [
                Tensor("conv.weight", [4, 2, 3, 3], TensorDType.Float32, Floats(weight)),
                Tensor("conv.bias", [4], TensorDType.Float32, Floats([1, 2, 3, 4])),
                Tensor("bn.num_batches_tracked", [], TensorDType.Int64, BitConverter.GetBytes(7L)),
                Tensor("half", [2, 2], TensorDType.Float16, new byte[8]),
            ],
            [
                Tensor("fc.weight", [3, 2], TensorDType.Float64, new byte[48]),
                Tensor("fc.bf16", [1, 2], TensorDType.BFloat16, [0x80, 0x3F, 0x00, 0x40]),
                Tensor("mask", [3], TensorDType.Bool, [1, 0, 1]),
                Tensor("bytes", [2], TensorDType.UInt8, [7, 8]),
                Tensor("i8", [2], TensorDType.Int8, [0xFF, 1]),
                Tensor("i16", [1], TensorDType.Int16, [1, 0]),
                Tensor("i32", [1], TensorDType.Int32, [1, 0, 0, 0]),
                Tensor("c64", [1], TensorDType.Complex64, new byte[8]),
            ],
            [Tensor("empty", [0, 3], TensorDType.Float32, [])],
            [Tensor("w", [1, 1, 1, 1, 1], TensorDType.Float32, Floats([0.5f]))],
        ];

        var folder = Directory.CreateTempSubdirectory("wmk-fuzz-seeds-").FullName;
        try
        {
            var seeds = new List<(string, byte[])>();
            for (var i = 0; i < sets.Length; i++)
            {
                var path = Path.Combine(folder, $"valid-{i}{extension}");
                try
                {
                    ModelFile.Write(path, format, sets[i]);
                }
                catch (ArgumentException)
                {
                    continue; // a combination this writer does not take (e.g. an element type ONNX lacks)
                }

                seeds.Add(($"valid-{format.ToString().ToLowerInvariant()}-{i}{extension}", File.ReadAllBytes(path)));
            }

            return seeds;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static List<(string, byte[])> KeyFileSeeds()
    {
        var rings = new[]
        {
            new Keyring(WatermarkKey.Create("conv.weight", [4, 2, 3, 3], 8, KeyKind.Random)),
            new Keyring(
                WatermarkKey.Create("g2.block0.conv2.weight", [64, 64, 3, 3], 128, KeyKind.Random, Message.FromText("ACME Corp")),
                WatermarkKey.Create("g3.block0.conv2.weight", [16, 8, 3, 3], 32, KeyKind.Diff, Message.FromBytes([0xde, 0xad, 0xbe, 0xef]), 0.05),
                WatermarkKey.Create("fc.weight", [10, 256], 16, KeyKind.Direct, Message.AllOnes, 0.01, Whitening.KeyedMask)),
            new Keyring(WatermarkKey.Create("lin.weight", [3, 2], 16, KeyKind.Direct, Message.FromText("é"), 1e-3, Whitening.None, allowOverCapacity: true)),
            new Keyring(WatermarkKey.Create("conv3d.weight", [2, 2, 2, 2, 2], 4, KeyKind.Diff)),
        };

        var folder = Directory.CreateTempSubdirectory("wmk-fuzz-seeds-").FullName;
        try
        {
            var seeds = new List<(string, byte[])>();
            for (var i = 0; i < rings.Length; i++)
            {
                var path = Path.Combine(folder, $"key-{i}.json");
                rings[i].Save(path);
                seeds.Add(($"valid-keyfile-{i}.json", File.ReadAllBytes(path)));
            }

            return seeds;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static StoredTensor Tensor(string name, long[] shape, TensorDType dtype, byte[] data) =>
        new(name, [.. shape], dtype, data);

    private static byte[] Floats(float[] values)
    {
        var bytes = new byte[values.Length * sizeof(float)];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        return bytes;
    }
}
