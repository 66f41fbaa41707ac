using System;
using System.IO;
using TorchSharp;
using TorchSharp.Modules;
using Watermark.Training;
using Xunit;
using static TorchSharp.torch;

namespace Watermark.Cli.Tests;

/// <summary>A classifier marked by the training plugin on real CIFAR-10 images, then checked by the command.</summary>
[Collection(TrainedModelsGroup.Name)]
public sealed class TrainerEmbeddedTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("wmk-cli-trainer-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private sealed class SmallNet : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1;
        private readonly Conv2d conv2;
        private readonly Linear fc;

        public SmallNet()
            : base(nameof(SmallNet))
        {
            conv1 = nn.Conv2d(3, 16, 3, padding: 1);
            conv2 = nn.Conv2d(16, 32, 3, padding: 1);
            fc = nn.Linear(32, 10);
            RegisterComponents();
        }

        public override Tensor forward(Tensor input)
        {
            using var scope = NewDisposeScope();
            var x = nn.functional.max_pool2d(nn.functional.relu(conv1.forward(input)), 2);
            x = nn.functional.relu(conv2.forward(x));
            return fc.forward(nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)).MoveToOuterDisposeScope();
        }
    }

    private string TrainAndSave(string name, Keyring? keyring)
    {
        lock (SequentialTorch.Lock)
        {
            torch.manual_seed(11);
            using var model = new SmallNet();
            var options = new TrainingOptions { Epochs = 2, LearningRate = 0.05, Milestones = [1], ReportEvery = 0, Seed = 11 };
            new Trainer(model, options, keyring is null ? null : new WatermarkRegularizer(keyring, model)).Fit(Watermark.Tests.Subset.Train(512, seed: 11));
            var path = Path.Combine(folder, name);
            model.save(path);
            return path;
        }
    }

    [Fact]
    public void AModelMarkedByTheTrainerVerifiesAndOneTrainedWithoutDoesNot()
    {
        var key = WatermarkKey.Create("conv2.weight", [32, 16, 3, 3], 64, KeyKind.Random, Message.FromText("ACME"), strength: 0.5);
        var keyFile = Path.Combine(folder, "owner.key.json");
        new Keyring(key).Save(keyFile);

        var marked = CliRunner.Run("verify", "--model", TrainAndSave("marked.dat", new Keyring(key)), "--key", keyFile);
        Assert.True(marked.Code == ExitCodes.Present, marked.ToString());

        var clean = CliRunner.Run("verify", "--model", TrainAndSave("clean.dat", null), "--key", keyFile);
        Assert.True(clean.Code == ExitCodes.Absent, clean.ToString());
    }
}
