using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using TorchSharp;
using TorchSharp.Modules;
using Watermark.Formats;
using Watermark.Tests;
using Xunit;
using static TorchSharp.torch;

namespace Watermark.Cli.Tests;

/// <summary>
/// A post-activation CIFAR classifier, conv1 → bn1 → ReLU → conv2 (the host) → bn2 → ReLU → conv3 → bn3 → ReLU →
/// pool → fc, so the host has a batch norm on both sides: what feeds it (bn1, conv1) absorbs transforms of its
/// input channels, bn2 (and conv3) transforms of its filters. <c>width</c> is conv1's filter count (the
/// host's input width), which NeuronClique and NeuronSplit change; the host is conv2.weight [32, width, 3, 3].
/// </summary>
internal sealed class BlockNet : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly Conv2d conv2;
    private readonly BatchNorm2d bn2;
    private readonly Conv2d conv3;
    private readonly BatchNorm2d bn3;
    private readonly Linear fc;

    public BlockNet(int width = 16)
        : base(nameof(BlockNet))
    {
        conv1 = nn.Conv2d(3, width, 3, stride: 2, padding: 1);
        bn1 = nn.BatchNorm2d(width);
        conv2 = nn.Conv2d(width, 32, 3, padding: 1, bias: false);
        bn2 = nn.BatchNorm2d(32);
        conv3 = nn.Conv2d(32, 16, 3, padding: 1, bias: false);
        bn3 = nn.BatchNorm2d(16);
        fc = nn.Linear(16, 10);
        RegisterComponents();
    }

    public Conv2d Host => conv2;

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = nn.functional.relu(bn1.forward(conv1.forward(input)));
        x = nn.functional.relu(bn2.forward(conv2.forward(x)));
        x = nn.functional.relu(bn3.forward(conv3.forward(x)));
        return fc.forward(x.mean([2, 3])).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// A <see cref="BlockNet"/> trained on real CIFAR-10 images (the committed subset) with the owner's key of
/// <see cref="TrainedModels"/> (conv2.weight [32, 16, 3, 3], 64 bits) embedded, saved once for the structural
/// attack tests; and 128 real test images to compare networks on.
/// </summary>
public sealed class MarkedBlockNet : IDisposable
{
    public MarkedBlockNet()
    {
        Folder = Path.Combine(Path.GetTempPath(), $"wmk-block-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Folder);
        var owner = WatermarkKey.Create(TrainedModels.Host, TrainedModels.HostShape, 64, KeyKind.Random, Message.FromText("ACME"), WatermarkKey.DefaultStrength, null, false, TrainedModels.Seed(1));
        OwnerKey = Path.Combine(Folder, "owner.key.json");
        new Keyring(owner).Save(OwnerKey);
        lock (SequentialTorch.Lock)
        {
            using var train = new CifarSubset("train.bin.gz", 512);
            using var test = new CifarSubset("test.bin.gz", 128);
            Images = Stack(test).DetachFromDisposeScope();
            using var images = Stack(train);
            using var labels = torch.stack(Enumerable.Range(0, (int)train.Count).Select(i => train.GetTensor(i)["label"]).ToArray());
            torch.manual_seed(31);
            using var model = new BlockNet();
            using var optimizer = optim.Adam(model.parameters(), 0.01);
            model.train();
            for (var step = 0; step < 64; step++)
            {
                using var scope = NewDisposeScope();
                var batch = torch.arange(step * 32 % 512, (step * 32 % 512) + 32);
                optimizer.zero_grad();
                var loss = nn.functional.cross_entropy(model.forward(images[batch]), labels[batch]) + EmbeddingLoss.Compute(model.Host.weight!, owner);
                loss.backward();
                optimizer.step();
            }

            MarkedDat = Path.Combine(Folder, "block.dat");
            model.save(MarkedDat);
        }

        MarkedSafetensors = Path.Combine(Folder, "block.safetensors");
        ModelFile.Write(MarkedSafetensors, ModelFormat.Safetensors, ModelFile.Open(MarkedDat).ReadAll());
    }

    public string Folder { get; }

    public string OwnerKey { get; }

    public string MarkedDat { get; }

    public string MarkedSafetensors { get; }

    /// <summary>128 normalised CIFAR-10 test images, [128, 3, 32, 32].</summary>
    public Tensor Images { get; }

    public string PathOf(string name) => Path.Combine(Folder, name);

    /// <summary>
    /// The largest difference between the logits of the networks saved at <paramref name="original"/> and
    /// <paramref name="attacked"/> (evaluation mode) on the real test images, relative to the largest logit,
    /// and whether every image gets the same class; <paramref name="width"/> is the attacked host's input width.
    /// The networks run in float64: libtorch's float32 convolution (oneDNN) on this project's AVX-512 machines
    /// returns wrong sums when the input channel count is not a multiple of 16 (of 8 with AVX2), measured against
    /// float64 and an explicit unfold-and-multiply, which agree; the widened hosts of NeuronClique and NeuronSplit
    /// have such widths. The weights are the files' float32 values either way.
    /// </summary>
    public (double RelativeDifference, bool SameClasses) Compare(string original, string attacked, int width = 16)
    {
        lock (SequentialTorch.Lock)
        {
            using var before = new BlockNet();
            using var after = new BlockNet(width);
            before.load(original);
            after.load(attacked);
            before.to(torch.float64).eval();
            after.to(torch.float64).eval();
            using var noGrad = torch.no_grad();
            using var images = Images.to(torch.float64);
            using var expected = before.forward(images);
            using var actual = after.forward(images);
            using var difference = (expected - actual).abs().max();
            using var scale = expected.abs().max();
            using var classesBefore = expected.argmax(1);
            using var classesAfter = actual.argmax(1);
            return (difference.ToDouble() / scale.ToDouble(), classesBefore.eq(classesAfter).all().ToBoolean());
        }
    }

    /// <summary>What plain <c>watermark verify --json</c> says about a model: exit code, BER and p-value (NaN when it cannot apply the key).</summary>
    public (int Code, double Ber, double PValue) Verify(string path)
    {
        var run = CliRunner.Run("verify", "--model", path, "--key", OwnerKey, "--json");
        if (run.Code == ExitCodes.Unusable)
        {
            return (run.Code, double.NaN, double.NaN);
        }

        using var json = JsonDocument.Parse(run.Out);
        return (run.Code, json.RootElement.GetProperty("ber").GetDouble(), json.RootElement.GetProperty("pValue").GetDouble());
    }

    private static Tensor Stack(CifarSubset set) => torch.stack(Enumerable.Range(0, (int)set.Count).Select(i => set.GetTensor(i)["data"]).ToArray());

    public void Dispose()
    {
        Images.Dispose();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is harmless.
        }
    }
}

[CollectionDefinition(Name)]
public sealed class MarkedBlockNetGroup : ICollectionFixture<MarkedBlockNet>
{
    public const string Name = "marked block net";
}
