using System;
using System.Buffers.Binary;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using TorchSharp;
using Watermark.Training;
using Xunit;
using static TorchSharp.torch;

namespace Watermark.Tests;

/// <summary>
/// Checkpoints reached through a link, at a path that cannot hold one, crafted by someone who knows the
/// layout (so the SHA-256 matches), and the file's mode.
/// </summary>
[Collection(SequentialTorch.Name)]
public sealed class CheckpointTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("wmk-ckpt-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private static TrainingOptions Quick => TrainerTests.Quick;

    private static ITrainingData Data => Subset.Train(128);

    private static TinyNet Fresh(long seed)
    {
        torch.manual_seed(seed);
        return new TinyNet();
    }

    private static float[] Weights(nn.Module model) =>
        [.. model.parameters().SelectMany(p => p.detach().data<float>().ToArray())];

    // One finished epoch of Quick, checkpointed at path.
    private static void TrainOneEpoch(string path)
    {
        using var model = Fresh(11);
        new Trainer(model, Quick with { Epochs = 1 }) { CheckpointPath = path }.Fit(Data);
    }

    // Trains with Quick from path; the fresh model's weights must not change when the checkpoint is refused.
    private static WatermarkException Refused(string path)
    {
        using var model = Fresh(12);
        var before = Weights(model);
        var e = Assert.Throws<WatermarkException>(() => new Trainer(model, Quick) { CheckpointPath = path }.Fit(Data));
        Assert.Equal(before, Weights(model));
        Assert.Contains(Path.GetFileName(path), e.Message, StringComparison.Ordinal);
        return e;
    }

    [Fact]
    public void CheckpointReachedThroughASymlinkResumes()
    {
        var real = Path.Combine(folder, "real.ckpt");
        TrainOneEpoch(real);
        var link = Path.Combine(folder, "link.ckpt");
        File.CreateSymbolicLink(link, real);

        using var writer = new StringWriter();
        using (var model = Fresh(12))
        {
            var history = new Trainer(model, Quick) { CheckpointPath = link, Progress = new ProgressDisplay(writer) }.Fit(Data);
            Assert.Equal(2, history.Count);
        }

        Assert.Contains("after epoch 1", writer.ToString(), StringComparison.Ordinal);

        // The next checkpoint went to the file the link names, and the link is still a link.
        Assert.NotNull(new FileInfo(link).LinkTarget);
        using var again = new StringWriter();
        using (var model = Fresh(13))
        {
            Assert.Equal(2, new Trainer(model, Quick) { CheckpointPath = real, Progress = new ProgressDisplay(again) }.Fit(Data).Count);
        }

        Assert.Contains("after epoch 2", again.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void SymlinkToAMissingCheckpointNamesTheMissingFile()
    {
        var link = Path.Combine(folder, "link.ckpt");
        File.CreateSymbolicLink(link, Path.Combine(folder, "gone.ckpt"));
        var e = Refused(link);
        Assert.Contains("symbolic link", e.Message, StringComparison.Ordinal);
        Assert.Contains("gone.ckpt", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckpointPathThatIsAFolderIsRefusedBeforeTheFirstEpoch()
    {
        var path = Directory.CreateDirectory(Path.Combine(folder, "run.ckpt")).FullName;
        var e = Refused(path); // unchanged weights: no epoch ran
        Assert.Contains($"'{path}'", e.Message, StringComparison.Ordinal);
        Assert.Contains("is a folder", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckpointPathThatIsAPipeIsRefusedBeforeTheFirstEpoch()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var path = Path.Combine(folder, "run.ckpt");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [path]))
        {
            mkfifo.WaitForExit();
        }

        var e = Refused(path); // no hang on open, and the pipe is not replaced by the first save
        Assert.Contains("named pipe", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckpointPathWhoseFolderCannotBeCreatedIsRefusedBeforeTheFirstEpoch()
    {
        var file = Path.Combine(folder, "plain.txt");
        File.WriteAllText(file, "not a folder");
        var path = Path.Combine(file, "sub", "run.ckpt");
        var e = Refused(path);
        Assert.Contains($"'{path}'", e.Message, StringComparison.Ordinal);
        Assert.Contains("cannot be created", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("negative epochs", "finished epochs")]
    [InlineData("zero epochs", "finished epochs")]
    [InlineData("more epochs than the run", "at least 5 epochs")]
    [InlineData("history longer than epochs", "history")]
    [InlineData("history shorter than epochs", "history")]
    [InlineData("null history", "history")]
    [InlineData("misnumbered history", "history")]
    public void CraftedHeaderWithAValidChecksumIsRefused(string craft, string reason)
    {
        var path = Path.Combine(folder, "run.ckpt");
        TrainOneEpoch(path);
        File.WriteAllBytes(path, Rewrite(File.ReadAllBytes(path), header: h =>
        {
            var entry = h["History"]![0]!;
            JsonArray Entries(int count) => [.. Enumerable.Range(1, count).Select(i => Numbered(entry, i))];
            switch (craft)
            {
                case "negative epochs":
                    h["Epochs"] = -3;
                    break;
                case "zero epochs":
                    h["Epochs"] = 0;
                    h["History"] = new JsonArray();
                    break;
                case "more epochs than the run":
                    h["Epochs"] = 5;
                    h["History"] = Entries(5);
                    break;
                case "history longer than epochs":
                    h["History"] = Entries(2);
                    break;
                case "history shorter than epochs":
                    h["Epochs"] = 2;
                    break;
                case "null history":
                    h["History"] = null;
                    break;
                case "misnumbered history":
                    h["History"]![0]!["Epoch"] = 7;
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(craft), craft, null);
            }
        }));

        var e = Refused(path);
        Assert.Contains("is refused", e.Message, StringComparison.Ordinal);
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("unknown parameter name")]
    [InlineData("bytes left over")]
    public void CraftedModelSectionIsRefusedAndTheModelIsRestored(string craft)
    {
        var path = Path.Combine(folder, "run.ckpt");
        TrainOneEpoch(path);
        File.WriteAllBytes(path, Rewrite(File.ReadAllBytes(path), model: m =>
        {
            if (craft == "bytes left over")
            {
                return [.. m, 0, 0, 0, 0];
            }

            // The last entry's name: TorchSharp has loaded every tensor before it when it notices.
            var at = m.AsSpan().LastIndexOf("fc.bias"u8);
            Assert.True(at > 0);
            m[at + 6] = (byte)'5';
            return m;
        }));

        var e = Refused(path);
        Assert.Contains("is refused", e.Message, StringComparison.Ordinal);
        Assert.Contains("model section", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("optimizer type")]
    [InlineData("momentum")]
    [InlineData("bytes left over")]
    public void CraftedOptimizerSectionIsRefused(string craft)
    {
        var path = Path.Combine(folder, "run.ckpt");
        TrainOneEpoch(path);
        File.WriteAllBytes(path, Rewrite(File.ReadAllBytes(path), optimizer: o =>
        {
            switch (craft)
            {
                case "optimizer type":
                    Assert.True(o.AsSpan(0, 4).SequenceEqual("\u0003SGD"u8));
                    o[3] = (byte)'E';
                    return o;
                case "momentum":
                    var at = o.AsSpan().IndexOf(BitConverter.GetBytes(Quick.Momentum));
                    Assert.True(at > 0);
                    BitConverter.GetBytes(0.5).CopyTo(o, at);
                    return o;
                default:
                    return [.. o, 0, 0, 0, 0];
            }
        }));

        var e = Refused(path);
        Assert.Contains("is refused", e.Message, StringComparison.Ordinal);
        Assert.Contains("optimiser section", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckpointIsWrittenOwnerOnly()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        var path = Path.Combine(folder, "run.ckpt");
        TrainOneEpoch(path);
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(path));

        // A checkpoint made readable to others (as written before) is owner-only again after the next save.
        File.SetUnixFileMode(path, OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        using (var model = Fresh(14))
        {
            new Trainer(model, Quick) { CheckpointPath = path }.Fit(Data);
        }

        Assert.Equal(OwnerOnly, File.GetUnixFileMode(path));
    }

    private static JsonNode Numbered(JsonNode entry, int epoch)
    {
        var copy = entry.DeepClone();
        copy["Epoch"] = epoch;
        return copy;
    }

    // Rewrites a checkpoint's sections and recomputes its SHA-256, as anyone who knows the layout can:
    // magic, int32 header length, JSON header, int64 + model, int64 + optimiser, SHA-256 of all before.
    private static byte[] Rewrite(byte[] checkpoint, Action<JsonObject>? header = null, Func<byte[], byte[]>? model = null, Func<byte[], byte[]>? optimizer = null)
    {
        var position = 8;
        var headerLength = BinaryPrimitives.ReadInt32LittleEndian(checkpoint.AsSpan(position));
        position += 4;
        var json = JsonNode.Parse(checkpoint.AsSpan(position, headerLength))!.AsObject();
        position += headerLength;
        byte[] Section()
        {
            var length = (int)BinaryPrimitives.ReadInt64LittleEndian(checkpoint.AsSpan(position));
            position += 8;
            var bytes = checkpoint.AsSpan(position, length).ToArray();
            position += length;
            return bytes;
        }

        var modelBytes = Section();
        var optimizerBytes = Section();
        Assert.Equal(checkpoint.Length - 32, position);

        header?.Invoke(json);
        modelBytes = model?.Invoke(modelBytes) ?? modelBytes;
        optimizerBytes = optimizer?.Invoke(optimizerBytes) ?? optimizerBytes;
        var headerBytes = Encoding.UTF8.GetBytes(json.ToJsonString());
        using var content = new MemoryStream();
        content.Write("WMKCKPT1"u8);
        using (var writer = new BinaryWriter(content, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(headerBytes.Length);
            writer.Write(headerBytes);
            writer.Write((long)modelBytes.Length);
            writer.Write(modelBytes);
            writer.Write((long)optimizerBytes.Length);
            writer.Write(optimizerBytes);
        }

        content.Write(SHA256.HashData(content.ToArray()));
        return content.ToArray();
    }
}
