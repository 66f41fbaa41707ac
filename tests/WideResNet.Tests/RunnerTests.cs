using System;
using System.IO;
using WideResNet.Experiments;
using Xunit;

namespace WideResNet.Tests;

/// <summary>
/// The run cache that every experiment stands on: a finished run is reused, a run is trained again when
/// what it starts from was, and a missing prerequisite is named. Real training: WRN-10-2 on 128 real
/// CIFAR-10 images for one epoch (two steps).
/// </summary>
[Collection(SequentialTorch.Name)]
public sealed class RunnerTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("wrn-runner-").FullName;
    private readonly Runner runner;

    public RunnerTests()
    {
        runner = new Runner(new Settings(Preset.Cpu, SampleData.CifarFolder(root), Path.Combine(root, "results"), 1, Epochs: 1, Limit: 128, Threads: 2, "cpu"));
    }

    private static RunSpec Marked => new("marked", 1, "cifar10", Embed: true);

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public void TrainsARunOnceAndReusesItAfterwards()
    {
        var first = runner.Get(Marked);
        var folder = runner.Folder(Marked.Name);
        Assert.Equal("cpu-e1-n128", Path.GetFileName(Path.GetDirectoryName(folder)));
        Assert.Single(first.History);
        Assert.True(File.Exists(Path.Combine(folder, "model.dat")));
        Assert.False(File.Exists(Path.Combine(folder, "checkpoint.ckpt")), "the checkpoint is removed once the run is finished");
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(folder, "key.json")));
        }

        using (var model = runner.Load(Marked))
        {
            Assert.Equal(first.BitErrorRate, Runner.Measure(model, runner.KeyFor(Marked)).Slot.BitErrorRate);
        }

        // Set back an hour, so that a run.json written again now cannot carry the same time.
        var written = DateTime.UtcNow.AddHours(-1);
        File.SetLastWriteTimeUtc(Path.Combine(folder, "run.json"), written);
        var again = runner.Get(Marked);
        Assert.Equal(written, File.GetLastWriteTimeUtc(Path.Combine(folder, "run.json")));
        Assert.Equal(first.TestError, again.TestError);
        Assert.Equal(first.Projection, again.Projection);
    }

    [Fact]
    public void ARunIsTrainedAgainWhenItsSpecChanges()
    {
        runner.Get(Marked);
        var run = Path.Combine(runner.Folder(Marked.Name), "run.json");
        var written = DateTime.UtcNow.AddHours(-1);
        File.SetLastWriteTimeUtc(run, written);
        var stronger = runner.Get(Marked with { Strength = 0.1 });
        Assert.Equal(0.1, stronger.Spec.Strength);
        Assert.NotEqual(written, File.GetLastWriteTimeUtc(run));
    }

    [Fact]
    public void AFineTuningIsTrainedAgainWhenTheRunItStartsFromWasTrainedAfterIt()
    {
        var source = new RunSpec("source", 1, "cifar10", Embed: false);
        var tuned = new RunSpec("tuned", 1, "cifar10", Embed: true, StartFrom: "source");
        runner.Get(source);
        runner.Get(tuned);
        var run = Path.Combine(runner.Folder("tuned"), "run.json");
        var written = DateTime.UtcNow.AddHours(-1);
        File.SetLastWriteTimeUtc(run, written);
        File.SetLastWriteTimeUtc(Path.Combine(runner.Folder("source"), "model.dat"), written.AddMinutes(-1));

        runner.Get(tuned);
        Assert.Equal(written, File.GetLastWriteTimeUtc(run));

        File.SetLastWriteTimeUtc(Path.Combine(runner.Folder("source"), "model.dat"), written.AddMinutes(1));
        runner.Get(tuned);
        Assert.True(File.GetLastWriteTimeUtc(run) > written, "the fine-tuning was not trained again after its source changed");
    }

    [Fact]
    public void AMissingPrerequisiteIsNamedWithTheFix()
    {
        var e = Assert.Throws<InvalidOperationException>(() => runner.Get(new RunSpec("orphan", 1, "cifar10", Embed: false, Teacher: "absent")));
        Assert.Contains(Path.Combine(runner.Folder("absent"), "model.dat"), e.Message, StringComparison.Ordinal);
        Assert.Contains("run the experiment that trains it first", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(runner.Folder("orphan")), "nothing is written for a run that cannot start");
    }
}
