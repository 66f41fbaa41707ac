using System;
using System.Collections.Generic;
using System.IO;
using TorchSharp;
using Watermark;

namespace WideResNet.Experiments;

/// <summary>
/// One of the paper's tables (or one of ours beyond it) as a command: each lives in a file named after
/// it, is listed in <see cref="Registry"/>, and writes results/&lt;name&gt;.json, .md and its figures.
/// </summary>
/// <param name="name">The command, and the name of its result files.</param>
/// <param name="summary">What it does, for the help text.</param>
internal abstract class Experiment(string name, string summary)
{
    public string Name => name;

    public string Summary => summary;

    /// <summary>Trains (or reuses) the runs the experiment needs and measures them; <paramref name="command"/> reproduces it.</summary>
    public abstract ExperimentResult Run(Runner runner, string command);

    /// <summary>The command: parses the settings, runs the experiment and writes its results and REPORT.md.</summary>
    public int Execute(string[] args)
    {
        Settings settings;
        try
        {
            settings = Settings.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            Console.Error.WriteLine(Settings.Usage);
            return 2;
        }

        torch.set_num_threads(settings.Threads);
        var runner = new Runner(settings);
        var command = $"dotnet run --project samples/WideResNet -c Release -- {Name} {string.Join(' ', args)}".TrimEnd();
        try
        {
            Report.Write(runner, Run(runner, command));
            return 0;
        }
        catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException or InvalidDataException or InvalidOperationException or WatermarkException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
    }

    /// <summary>The experiment's result, finished now; <paramref name="network"/> defaults to the preset's WRN-depth-widen.</summary>
    protected ExperimentResult Result(Runner runner, string title, string command, List<Row> rows, List<RunResult> runs, List<string> figures, List<string> notes, string? network = null) =>
        new(Name, title, runner.Settings.Preset.Name, network ?? $"WRN-{runner.Settings.Preset.Depth}-{runner.Settings.Preset.Widen}", runner.Settings.Seed, command, DateTimeOffset.UtcNow, rows, runs, figures, notes);
}
