using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;

namespace WideResNet.Experiments;

/// <summary>The common command-line options of every experiment.</summary>
internal sealed record Settings(Preset Preset, string? Data, string Out, ulong Seed, int? Epochs, int? Limit, int Threads, string Device)
{
    public const string Usage = """
        options:
          --preset cpu|paper   cpu: WRN-10-2, 10 epochs (default); paper: WRN-10-4, 200 epochs (a GPU job)
          --data DIR           folder with cifar-10-batches-bin/ and caltech101-32x32/ (or set WATERMARK_DATA)
          --out DIR            results folder (default: samples/WideResNet/results); runs are cached in DIR/runs
          --seed N             seed of the first run (default 1); a seed fixes a run
          --epochs N           shorten every training to N epochs (milestones scale with it)
          --limit N            use only the first N training and N test images (smoke tests)
          --threads N          torch CPU threads (default: all cores)
          --device cpu|cuda    where to train (cuda needs the TorchSharp-cuda build: -p:WatermarkTorchBackend=cuda)
        """;

    public static Settings Parse(IReadOnlyList<string> args)
    {
        var preset = Preset.Cpu;
        string? data = null;
        var output = Directory.Exists(Path.Combine("samples", "WideResNet")) ? Path.Combine("samples", "WideResNet", "results") : "results";
        ulong seed = 1;
        int? epochs = null, limit = null;
        var threads = Environment.ProcessorCount;
        var device = "cpu";
        for (var i = 0; i < args.Count; i++)
        {
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"option '{args[i]}' needs a value.");
            int Positive(string v) => int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new ArgumentException($"option '{args[i - 1]}' needs a positive integer, not '{v}'.");
            switch (args[i])
            {
                case "--preset": preset = Preset.Parse(Value()); break;
                case "--data": data = Value(); break;
                case "--out": output = Value(); break;
                case "--seed": seed = (ulong)Positive(Value()); break;
                case "--epochs": epochs = Positive(Value()); break;
                case "--limit": limit = Positive(Value()); break;
                case "--threads": threads = Positive(Value()); break;
                case "--device": device = Value() is "cpu" or "cuda" ? args[i] : throw new ArgumentException($"--device takes cpu or cuda, not '{args[i]}'."); break;
                default: throw new ArgumentException($"unknown option '{args[i]}'.");
            }
        }

        return new Settings(preset, data, Path.GetFullPath(output), seed, epochs, limit, threads, device);
    }

    public string RunsFolder => Path.Combine(Out, "runs", Preset.Name + (Epochs is { } e ? $"-e{e}" : string.Empty) + (Limit is { } l ? $"-n{l}" : string.Empty));
}
