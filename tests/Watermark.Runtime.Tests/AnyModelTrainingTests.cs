using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using TorchSharp;
using TorchSharp.Modules;
using Watermark.Training;
using Xunit;
using static TorchSharp.torch;

namespace Watermark.Tests;

/// <summary>
/// The trainer beyond CIFAR and WRN: a multilayer perceptron whose Linear layer hosts the mark, fed
/// from a TorchSharp <c>TensorDataset</c> of real images turned into 64 grey values each, trained with
/// Adam and a StepLR scheduler of the caller's, with per-step and per-epoch callbacks.
/// </summary>
[Collection(SequentialTorch.Name)]
public sealed class AnyModelTrainingTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("wmk-any-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private sealed class Perceptron : nn.Module<Tensor, Tensor>
    {
        private readonly Linear fc1 = nn.Linear(64, 96);
        private readonly Linear fc2 = nn.Linear(96, 10);

        public Perceptron()
            : base(nameof(Perceptron)) => RegisterComponents();

        public override Tensor forward(Tensor input)
        {
            using var scope = NewDisposeScope();
            return fc2.forward(nn.functional.relu(fc1.forward(input))).MoveToOuterDisposeScope();
        }
    }

    // 8×8 grey versions of the committed CIFAR-10 subset's images (mean of the channels, 4×4 average pooling).
    private static (Tensor Inputs, Tensor Labels) Grey(string file, int count)
    {
        using var set = new CifarSubset(file, count);
        using var scope = NewDisposeScope();
        var images = stack(Enumerable.Range(0, (int)set.Count).Select(i => set.GetTensor(i)["data"]).ToArray());
        var grey = nn.functional.avg_pool2d(images.mean([1], keepdim: true), 4).flatten(1);
        var labels = stack(Enumerable.Range(0, (int)set.Count).Select(i => set.GetTensor(i)["label"]).ToArray());
        return (grey.MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope());
    }

    private static WatermarkKey Key(int seed) =>
        WatermarkKey.Create("fc1.weight", [96, 64], 32, KeyKind.Random, Message.FromText("ACME"), 0.5, null, false, TestSeeds.Numbered(seed));

    private static Perceptron Fresh(long seed)
    {
        torch.manual_seed(seed);
        return new Perceptron();
    }

    private static Trainer Adam(Perceptron model, int epochs, string? checkpoint = null, List<TrainingStep>? steps = null, List<int>? starts = null) =>
        new(model, new TrainingOptions { Epochs = epochs, Seed = 5, ReportEvery = 0 }, new WatermarkRegularizer(new Keyring(Key(1)), model))
        {
            Optimizer = (m, hosts) => optim.Adam(m.parameters(), 3e-3),
            Scheduler = o => optim.lr_scheduler.StepLR(o, 1, 0.5),
            CheckpointPath = checkpoint,
            StepFinished = steps is null ? null : steps.Add,
            EpochStarting = starts is null ? null : starts.Add,
        };

    [Fact]
    public void APerceptronWithALinearHostLearnsTheTaskAndTheMarkFromATensorDataset()
    {
        var (inputs, labels) = Grey("train.bin.gz", 2000);
        var (testInputs, testLabels) = Grey("test.bin.gz", 1000);
        using var train = utils.data.TensorDataset(inputs, labels);
        using var test = utils.data.TensorDataset(testInputs, testLabels);
        using var model = Fresh(1);
        var steps = new List<TrainingStep>();
        var starts = new List<int>();
        var history = Adam(model, 3, steps: steps, starts: starts).Fit(TrainingData.FromDataset(train, 50, seed: 3), TrainingData.FromDataset(test, 500, shuffle: false));

        Assert.Equal([0, 1, 2], starts);
        Assert.Equal(3 * 40, steps.Count); // 2,000 examples in batches of 50
        Assert.Equal((3, 40L, 40L), (steps[^1].Epoch, steps[^1].Batch, steps[^1].BatchesPerEpoch));
        Assert.Equal([3e-3, 1.5e-3, 0.75e-3], history.Select(h => Math.Round(h.LearningRate, 12)));
        Assert.Equal(0.0, history[^1].BitErrorRate);
        Assert.True(history[^1].TrainLoss < history[0].TrainLoss, $"{history[0].TrainLoss} → {history[^1].TrainLoss}");
        Assert.True(history[^1].TestError < 0.8, $"test error {history[^1].TestError}"); // chance is 0.9
        Assert.True(new Keyring(Key(1)).Verify(model).IsPresent);
        Assert.False(train.Count == 0); // the trainer never disposes the caller's datasets
    }

    [Fact]
    public void AResumedRunWithTheCallersOptimizerAndSchedulerEqualsAnUninterruptedOne()
    {
        var (inputs, labels) = Grey("train.bin.gz", 400);
        using var train = utils.data.TensorDataset(inputs, labels);
        var data = TrainingData.FromDataset(train, 50, seed: 3);
        float[] Weights(nn.Module m) => [.. m.parameters().SelectMany(p => p.detach().data<float>().ToArray())];

        using var straight = Fresh(2);
        var expected = Adam(straight, 3).Fit(data);

        var checkpoint = Path.Combine(folder, "adam.ckpt");
        using (var first = Fresh(2))
        {
            Adam(first, 1, checkpoint).Fit(data);
        }

        using var resumed = Fresh(99); // weights come from the checkpoint
        var history = Adam(resumed, 3, checkpoint).Fit(data);
        Assert.Equal(Weights(straight), Weights(resumed));
        Assert.Equal(expected.Select(h => h.LearningRate), history.Select(h => h.LearningRate));
    }

    [Fact]
    public void BatchesInMemoryAreUsedEveryEpochAndNeverDisposed()
    {
        var (inputs, labels) = Grey("train.bin.gz", 256);
        var batches = Enumerable.Range(0, 4).Select(i => (inputs[TensorIndex.Slice(i * 64, (i + 1) * 64)], labels[TensorIndex.Slice(i * 64, (i + 1) * 64)])).ToList();
        using var model = Fresh(3);
        var history = new Trainer(model, new TrainingOptions { Epochs = 2, LearningRate = 0.05, Milestones = [], ReportEvery = 0 }).Fit(TrainingData.FromBatches(batches));
        Assert.Equal(2, history.Count);
        Assert.All(batches, b => Assert.Equal(64, b.Item1.shape[0])); // still alive after both epochs
        Assert.True(history[1].TrainLoss < history[0].TrainLoss);
    }

    [Fact]
    public void NonClassificationTargetsTrainWithTheCallersLossAndReportNoErrorRate()
    {
        var (inputs, _) = Grey("train.bin.gz", 128);
        using var train = utils.data.TensorDataset(inputs, inputs.sum(1, keepdim: true));
        using var model = Fresh(4);
        var history = new Trainer(model, new TrainingOptions { Epochs = 1, LearningRate = 0.01, Milestones = [], ReportEvery = 0 })
        {
            TaskLoss = (output, target) => nn.functional.mse_loss(output[TensorIndex.Colon, TensorIndex.Slice(0, 1)], target),
        }.Fit(TrainingData.FromDataset(train, 32));
        Assert.True(double.IsNaN(history[0].TrainError));
        Assert.True(double.IsFinite(history[0].TrainLoss));
    }

    [Fact]
    public void ADatasetWithoutTheNamedEntriesIsRefusedNamingThem()
    {
        using var model = Fresh(5);
        var e = Assert.Throws<WatermarkException>(() => new Trainer(model, new TrainingOptions { Epochs = 1, ReportEvery = 0 }).Fit(TrainingData.FromDataset(new Renamed(), 8)));
        Assert.Contains("'data'", e.Message, StringComparison.Ordinal);
        Assert.Contains("'image'", e.Message, StringComparison.Ordinal);
    }

    private sealed class Renamed : utils.data.Dataset
    {
        public override long Count => 8;

        public override Dictionary<string, Tensor> GetTensor(long index) => new() { ["image"] = zeros(64), ["label"] = tensor(0L) };
    }

    [Fact]
    public void EveryWayOfBindingAKeyringAgreesAndAnEmptyKeyringIsRefusedByAll()
    {
        using var model = Fresh(6);
        var keyring = new Keyring(Key(6));
        var regularizer = new WatermarkRegularizer(keyring, model);
        using var bound = regularizer.Loss();
        using var direct = EmbeddingLoss.Weighted(model.get_parameter("fc1.weight")!, Key(6));
        Assert.Equal(direct.ToDouble(), bound.ToDouble());
        Assert.Equal(regularizer.Verify().ToString(), keyring.Verify(model).ToString());
        var empty = new Keyring();
        Assert.Throws<WatermarkException>(() => new WatermarkRegularizer(empty, model));
        Assert.Throws<WatermarkException>(() => empty.Verify(model));
    }
}
