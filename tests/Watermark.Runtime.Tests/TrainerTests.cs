using System;
using System.IO;
using System.Linq;
using TorchSharp;
using Watermark.Training;
using Xunit;
using static TorchSharp.torch;

namespace Watermark.Tests;

[Collection(SequentialTorch.Name)]
public sealed class TrainerTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("wmk-train-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    // Two short epochs on a tiny net; CheckpointTests trains with the same.
    internal static readonly TrainingOptions Quick = new()
    {
        Epochs = 2,
        LearningRate = 0.05,
        Milestones = [1],
        ReportEvery = 0,
        Seed = 7,
    };

    private static WatermarkKey HostKey(int seed, double strength = 0.5) =>
        WatermarkKey.Create("conv2.weight", TinyNet.HostShape, 64, KeyKind.Random, Message.FromText("ACME"), strength, null, false, TestSeeds.Numbered(seed));

    private static TinyNet Fresh(long seed)
    {
        torch.manual_seed(seed);
        return new TinyNet();
    }

    private static float[] Weights(nn.Module model) =>
        [.. model.parameters().SelectMany(p => p.detach().data<float>().ToArray())];

    [Fact]
    public void TrainToEmbedLearnsTheTaskAndTheMark()
    {
        using var model = Fresh(1);
        var key = HostKey(1);
        var regularizer = new WatermarkRegularizer(new Keyring(key), model);
        Assert.InRange(regularizer.Verify().BitErrorRate, 0.3, 0.7);
        var history = new Trainer(model, Quick with { Epochs = 3, Milestones = [2] }, regularizer).Fit(Subset.Train(1024), Subset.Test(500));
        Assert.Equal(3, history.Count);
        Assert.Equal(0.0, history[^1].BitErrorRate);
        Assert.True(history[^1].PValueLog10 < -15);
        Assert.True(history[^1].EmbeddingLoss < history[0].EmbeddingLoss || history[0].BitErrorRate == 0);
        Assert.True(history[^1].TestError < 0.85, $"test error {history[^1].TestError}"); // chance is 0.9
        Assert.Equal(0.05 * 0.2, history[^1].LearningRate, 12);
        Assert.True(new Keyring(key).Verify(model).IsPresent);
    }

    [Fact]
    public void ResumedRunEqualsUninterruptedRun()
    {
        var data = Subset.Train(256);
        using var straight = Fresh(2);
        new Trainer(straight, Quick, new WatermarkRegularizer(new Keyring(HostKey(2)), straight)).Fit(data);

        var checkpoint = Path.Combine(folder, "run.ckpt");
        using (var first = Fresh(2))
        {
            new Trainer(first, Quick with { Epochs = 1 }, new WatermarkRegularizer(new Keyring(HostKey(2)), first)) { CheckpointPath = checkpoint }.Fit(data);
        }

        using var resumed = Fresh(99); // different init: everything must come from the checkpoint
        var history = new Trainer(resumed, Quick, new WatermarkRegularizer(new Keyring(HostKey(2)), resumed)) { CheckpointPath = checkpoint }.Fit(data);
        Assert.Equal(2, history.Count);
        Assert.Equal(Weights(straight), Weights(resumed));
    }

    [Fact]
    public void CorruptCheckpointIsRefusedAndNothingIsLoaded()
    {
        var checkpoint = Path.Combine(folder, "run.ckpt");
        using (var model = Fresh(3))
        {
            new Trainer(model, Quick with { Epochs = 1 }) { CheckpointPath = checkpoint }.Fit(Subset.Train(128));
        }

        var bytes = File.ReadAllBytes(checkpoint);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(checkpoint, bytes);
        using var fresh = Fresh(4);
        var before = Weights(fresh);
        var e = Assert.Throws<WatermarkException>(() => new Trainer(fresh, Quick) { CheckpointPath = checkpoint }.Fit(Subset.Train(128)));
        Assert.Contains("run.ckpt", e.Message, StringComparison.Ordinal);
        Assert.Contains("checksum", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, Weights(fresh));

        File.WriteAllBytes(checkpoint, bytes[..100]);
        Assert.Throws<WatermarkException>(() => new Trainer(fresh, Quick) { CheckpointPath = checkpoint }.Fit(Subset.Train(128)));
        Assert.Equal(before, Weights(fresh));
    }

    [Fact]
    public void CheckpointOfARunWithOtherSettingsIsRefused()
    {
        var checkpoint = Path.Combine(folder, "run.ckpt");
        using (var model = Fresh(10))
        {
            new Trainer(model, Quick with { Epochs = 1 }) { CheckpointPath = checkpoint }.Fit(Subset.Train(128));
        }

        using var again = Fresh(10);
        var e = Assert.Throws<WatermarkException>(() => new Trainer(again, Quick with { Milestones = [2] }) { CheckpointPath = checkpoint }.Fit(Subset.Train(128)));
        Assert.Contains("other settings", e.Message, StringComparison.Ordinal);
        Assert.Throws<WatermarkException>(() => new Trainer(again, Quick, new WatermarkRegularizer(new Keyring(HostKey(10)), again)) { CheckpointPath = checkpoint }.Fit(Subset.Train(128)));
    }

    [Fact]
    public void CheckpointOfAnotherModelIsRefused()
    {
        var checkpoint = Path.Combine(folder, "run.ckpt");
        using (var model = Fresh(5))
        {
            new Trainer(model, Quick with { Epochs = 1 }) { CheckpointPath = checkpoint }.Fit(Subset.Train(128));
        }

        torch.manual_seed(5);
        using var other = new TinyNet(classes: 7);
        Assert.Contains("different model", Assert.Throws<WatermarkException>(() => new Trainer(other, Quick) { CheckpointPath = checkpoint }.Fit(Subset.Train(128))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DistillationNeverReadsLabels()
    {
        using var teacher = Fresh(6);
        new Trainer(teacher, Quick with { Epochs = 1 }).Fit(Subset.Train(256));

        var data = Subset.Train(256);
        var scrambled = Subset.Train(256, relabel: i => ((i * 7) + 3) % 10);

        float[] Distil(ITrainingData set)
        {
            using var student = Fresh(7);
            var trainer = new Trainer(student, Quick, new WatermarkRegularizer(new Keyring(HostKey(7)), student), teacher);
            Assert.Equal(TrainingTarget.Teacher, trainer.Target);
            var history = trainer.Fit(set);
            Assert.True(double.IsNaN(history[0].TrainError));
            return Weights(student);
        }

        Assert.Equal(Distil(data), Distil(data));
        Assert.Equal(Distil(data), Distil(scrambled));
    }

    [Fact]
    public void HostWeightDecayChangesTheHostsDecayOnlyAndResumes()
    {
        var data = Subset.Train(256);
        var decayed = Quick with { WeightDecay = 0.5 };
        float[] Train(TrainingOptions options, out float[] host, string? checkpoint = null, int seed = 3)
        {
            using var model = Fresh(seed);
            new Trainer(model, options, new WatermarkRegularizer(new Keyring(HostKey(3)), model)) { CheckpointPath = checkpoint }.Fit(data);
            host = model.get_parameter("conv2.weight")!.detach().data<float>().ToArray();
            return Weights(model);
        }

        var same = Train(decayed, out var hostSame);
        Assert.Equal(same, Train(decayed with { HostWeightDecay = 0.5 }, out _)); // a second group with the same decay changes nothing
        Train(decayed with { HostWeightDecay = 0 }, out var hostFree);
        static double Norm(float[] w) => Math.Sqrt(w.Sum(v => (double)v * v));
        Assert.True(Norm(hostFree) > 1.05 * Norm(hostSame), $"{Norm(hostFree)} vs {Norm(hostSame)}");

        var checkpoint = Path.Combine(folder, "host.ckpt");
        var free = decayed with { HostWeightDecay = 0 };
        var straight = Train(free, out _);
        Train(free with { Epochs = 1 }, out _, checkpoint);
        Assert.Equal(straight, Train(free, out _, checkpoint, seed: 98));
        var e = Assert.Throws<WatermarkException>(() => Train(decayed, out _, checkpoint));
        Assert.Contains("other settings", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ProgressPrintsPlainLinesWhenRedirected()
    {
        using var writer = new StringWriter();
        using var model = Fresh(8);
        var history = new Trainer(model, Quick with { Epochs = 1, ReportEvery = 2 }) { Progress = new ProgressDisplay(writer) }.Fit(Subset.Train(256), Subset.Test(64));
        Assert.InRange(history[0].ResidentMegabytes, 50, 64 * 1024);
        Assert.InRange(history[0].ManagedMegabytes, 1, history[0].ResidentMegabytes);
        Assert.InRange(history[0].PeakResidentMegabytes, history[0].ResidentMegabytes - 1, 64 * 1024); // Linux: VmHWM
        var lines = writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.DoesNotContain('\r', writer.ToString());
        Assert.Contains(lines, l => l.StartsWith("epoch 1/1  batch 2/4", StringComparison.Ordinal) && l.Contains("ETA", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("test error", StringComparison.Ordinal) && l.Contains("examples/s", StringComparison.Ordinal) && l.Contains("RSS", StringComparison.Ordinal) && l.Contains("(peak ", StringComparison.Ordinal) && l.Contains(", managed ", StringComparison.Ordinal));
    }

    [Fact]
    public void OptionsHaveFromScratchAndFineTunePresetsAndSayWhatTheyAre()
    {
        Assert.Equal(new TrainingOptions().ToString(), TrainingOptions.Paper.ToString()); // the defaults are the paper's
        Assert.Equal("200 epochs, SGD lr 0.1 (× 0.2 at 60, 120, 160), momentum 0.9 (Nesterov), weight decay 0.0005, seed 1", TrainingOptions.Paper.ToString());
        Assert.Equal("10 epochs, SGD lr 0.01 (× 0.2 at 5, 8), momentum 0.9 (Nesterov), weight decay 0.0005, seed 1", TrainingOptions.FineTune.ToString());
        Assert.Equal("3 epochs, SGD lr 0.05, momentum 0, weight decay 0, host weight decay 0, seed 2", new TrainingOptions { Epochs = 3, LearningRate = 0.05, Milestones = [], Momentum = 0, Nesterov = false, WeightDecay = 0, HostWeightDecay = 0, Seed = 2 }.ToString());
    }

    [Fact]
    public void EmbeddingWithoutTrainingMovesOnlyTheHostAndNeedsALargeLambda()
    {
        using var model = Fresh(9);
        var key = HostKey(9, strength: 0.01);
        var before = model.Host.weight!.detach().clone();
        DirectEmbedding.Embed(model.Host.weight!, key, lambda: 0, steps: 50);
        Assert.True(before.allclose(model.Host.weight!.detach()));
        DirectEmbedding.Embed(model.Host.weight!, key, lambda: 100, steps: 300, learningRate: 1e-2);
        Assert.Equal(0.0, key.Extract(model.Host.weight!).BitErrorRate);
        Assert.False(before.allclose(model.Host.weight!.detach()));
    }
}
