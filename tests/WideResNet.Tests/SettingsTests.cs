using System;
using System.IO;
using System.Linq;
using WideResNet.Experiments;
using Xunit;

namespace WideResNet.Tests;

public sealed class SettingsTests
{
    [Fact]
    public void ShortenedAndLimitedRunsAreCachedApartFromFullOnes()
    {
        var full = Settings.Parse(["--out", "r"]);
        var small = Settings.Parse(["--out", "r", "--epochs", "2", "--limit", "500", "--preset", "paper"]);
        Assert.EndsWith(Path.Combine("runs", "cpu"), full.RunsFolder, StringComparison.Ordinal);
        Assert.EndsWith(Path.Combine("runs", "paper-e2-n500"), small.RunsFolder, StringComparison.Ordinal);
        Assert.Equal(10, full.Preset.EpochsOn("cifar10", full.Epochs));
        Assert.Equal(160, full.Preset.EpochsOn("caltech101", full.Epochs));
        Assert.Equal(2, small.Preset.EpochsOn("caltech101", small.Epochs));
    }

    [Fact]
    public void ShortenedRunsScaleTheMilestones()
    {
        Assert.Equal(new[] { 3, 6, 8 }, Preset.Cpu.Options(1).Milestones.ToArray());
        Assert.Equal(new[] { 6, 12, 16 }, Preset.Cpu.Options(1, 20).Milestones.ToArray());
        Assert.Equal(new[] { 1, 1, 1 }, Preset.Cpu.Options(1, 1).Milestones.ToArray());
        Assert.Equal(new[] { 60, 120, 160 }, Preset.Paper.Options(1).Milestones.ToArray());
    }

    [Theory]
    [InlineData("--epochs", "0", "'--epochs' needs a positive integer, not '0'")]
    [InlineData("--limit", "ten", "'--limit' needs a positive integer, not 'ten'")]
    [InlineData("--preset", "gpu", "unknown preset 'gpu'")]
    [InlineData("--device", "tpu", "--device takes cpu or cuda, not 'tpu'")]
    [InlineData("--seeds", "1", "unknown option '--seeds'")]
    public void BadOptionsSayWhatIsWrong(string option, string value, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => Settings.Parse([option, value]));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnOptionWithoutItsValueIsAnError()
    {
        var e = Assert.Throws<ArgumentException>(() => Settings.Parse(["--seed"]));
        Assert.Contains("'--seed' needs a value", e.Message, StringComparison.Ordinal);
    }
}
