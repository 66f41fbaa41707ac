using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using Watermark.Training;
using static TorchSharp.torch;

namespace Watermark.Tests;

/// <summary>
/// The real CIFAR-10 subset committed in data/ (2,000 training and 1,000 test images) as a TorchSharp
/// dataset of normalised [3, 32, 32] images and int64 labels: the library's trainer sees it through
/// <see cref="TrainingData.FromDataset(utils.data.Dataset, int, bool, ulong, string, string)"/>, as a
/// user's own data would be.
/// </summary>
internal sealed class CifarSubset : utils.data.Dataset
{
    private const int ImageBytes = 3 * 32 * 32;
    private static readonly float[] Mean = [0.4914f, 0.4822f, 0.4465f];
    private static readonly float[] Std = [0.2470f, 0.2435f, 0.2616f];

    private readonly Tensor images;
    private readonly Tensor labels;

    public CifarSubset(string file, int count)
    {
        using var gzip = new GZipStream(File.OpenRead(Path.Combine(AppContext.BaseDirectory, "data", "cifar10-subset", file)), CompressionMode.Decompress);
        using var records = new MemoryStream();
        gzip.CopyTo(records);
        var bytes = records.ToArray();
        count = Math.Min(count, bytes.Length / (ImageBytes + 1));
        var pixels = new float[count * ImageBytes];
        var classes = new long[count];
        for (var i = 0; i < count; i++)
        {
            var record = i * (ImageBytes + 1);
            classes[i] = bytes[record];
            for (var j = 0; j < ImageBytes; j++)
            {
                var channel = j / (32 * 32);
                pixels[(i * ImageBytes) + j] = ((bytes[record + 1 + j] / 255f) - Mean[channel]) / Std[channel];
            }
        }

        // The dataset outlives any step's dispose scope.
        images = tensor(pixels, [count, 3, 32, 32]).DetachFromDisposeScope();
        labels = tensor(classes).DetachFromDisposeScope();
    }

    public override long Count => labels.shape[0];

    public override Dictionary<string, Tensor> GetTensor(long index) => new() { ["data"] = images[index], ["label"] = labels[index] };

    protected override void Dispose(bool disposing)
    {
        images.Dispose();
        labels.Dispose();
        base.Dispose(disposing);
    }
}

internal static class Subset
{
    private static readonly Lazy<CifarSubset> TrainSet = new(() => new CifarSubset("train.bin.gz", int.MaxValue));
    private static readonly Lazy<CifarSubset> TestSet = new(() => new CifarSubset("test.bin.gz", int.MaxValue));

    /// <summary>
    /// The first <paramref name="count"/> training images, shuffled per epoch from the seed, batch 64;
    /// <paramref name="relabel"/> replaces the label of image i.
    /// </summary>
    public static ITrainingData Train(int count, ulong seed = 7, Func<long, long>? relabel = null) => TrainingData.FromDataset(new FirstOf(TrainSet.Value, count, relabel), 64, shuffle: true, seed: seed);

    /// <summary>The first <paramref name="count"/> test images, in order, batch 256.</summary>
    public static ITrainingData Test(int count) => TrainingData.FromDataset(new FirstOf(TestSet.Value, count), 256, shuffle: false);

    private sealed class FirstOf(CifarSubset all, int count, Func<long, long>? relabel = null) : utils.data.Dataset
    {
        public override long Count => Math.Min(count, all.Count);

        public override Dictionary<string, Tensor> GetTensor(long index)
        {
            var item = all.GetTensor(index);
            if (relabel is not null)
            {
                item["label"] = tensor(relabel(index));
            }

            return item;
        }
    }
}
