using System;
using System.IO;
using System.IO.Compression;
using System.Linq;
using TorchSharp;
using WideResNet.Data;
using Xunit;

namespace WideResNet.Tests;

[Collection(SequentialTorch.Name)]
public sealed class DataTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("wmk-data-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void CommittedSubsetIsRealBalancedCifar()
    {
        Assert.Equal(2000, Subset.Train.Count);
        Assert.Equal(1000, Subset.Test.Count);
        Assert.All(Enumerable.Range(0, 2000), i => Assert.Equal(i % 10, Subset.Train.Labels[i]));
        // Real photographs: pixels span the range and images differ.
        var image = Subset.Train.Image(0).ToArray();
        Assert.True(image.Max() - image.Min() > 100);
        Assert.False(Subset.Train.Image(0).SequenceEqual(Subset.Train.Image(1)));
    }

    private string Write(string name, byte[] records, bool gzip)
    {
        var path = Path.Combine(folder, name);
        if (gzip)
        {
            using var file = File.Create(path);
            using var stream = new GZipStream(file, CompressionLevel.Fastest);
            stream.Write(records);
        }
        else
        {
            File.WriteAllBytes(path, records);
        }

        return path;
    }

    private static byte[] Records(params byte[] labels)
    {
        var bytes = new byte[labels.Length * ImageDataset.RecordBytes];
        for (var i = 0; i < labels.Length; i++)
        {
            bytes[i * ImageDataset.RecordBytes] = labels[i];
            bytes[(i * ImageDataset.RecordBytes) + 1 + i] = 200;
        }

        return bytes;
    }

    [Fact]
    public void RawAndGzipRecordsReadAlike()
    {
        var raw = ImageDataset.ReadRecords([Write("a.bin", Records(1, 2, 3), gzip: false)], 10, "raw");
        var gz = ImageDataset.ReadRecords([Write("a.bin.gz", Records(1, 2, 3), gzip: true)], 10, "gz");
        Assert.Equal(raw.Labels.ToArray(), gz.Labels.ToArray());
        Assert.True(raw.Image(2).SequenceEqual(gz.Image(2)));
    }

    [Fact]
    public void TruncatedOrForeignFilesAreRefusedWithTheirName()
    {
        var truncated = Write("t.bin", Records(1, 2)[..5000], gzip: false);
        var e = Assert.Throws<InvalidDataException>(() => ImageDataset.ReadRecords([truncated], 10, "t"));
        Assert.Contains("t.bin", e.Message, StringComparison.Ordinal);
        Assert.Contains("record 1", e.Message, StringComparison.Ordinal);
        var wrongLabels = Write("l.bin", Records(1, 50), gzip: false);
        Assert.Contains("label 50", Assert.Throws<InvalidDataException>(() => ImageDataset.ReadRecords([wrongLabels], 10, "l")).Message, StringComparison.Ordinal);
        Assert.Throws<FileNotFoundException>(() => ImageDataset.ReadRecords([Path.Combine(folder, "none.bin")], 10, "n"));
    }

    [Fact]
    public void MissingDatasetSaysWhereItLookedAndWhatToPass()
    {
        var e = Assert.Throws<DirectoryNotFoundException>(() => Datasets.Cifar10(folder, download: false));
        Assert.Contains(folder, e.Message, StringComparison.Ordinal);
        Assert.Contains("--data", e.Message, StringComparison.Ordinal);
        Assert.Contains(Datasets.EnvironmentVariable, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoaderIsDeterministicPerSeedAndEpoch()
    {
        var data = Subset.Train.Take(300);
        float[] First(ulong seed, int epoch)
        {
            var loader = new BatchLoader(data, 64, shuffle: true, augment: true, seed);
            using var batch = loader.Epoch(epoch).First();
            return batch.Images.data<float>().ToArray();
        }

        Assert.Equal(First(1, 0), First(1, 0));
        Assert.NotEqual(First(1, 0), First(1, 1));
        Assert.NotEqual(First(1, 0), First(2, 0));
        var loader = new BatchLoader(data, 64, shuffle: true, augment: true, seed: 1);
        Assert.Equal(5, loader.BatchesPerEpoch);
        var sizes = loader.Epoch(0).Select(b => { using (b) { return (int)b.Labels.shape[0]; } }).ToArray();
        Assert.Equal([64, 64, 64, 64, 44], sizes);
    }

    [Fact]
    public void BatchesLiveInNativeMemoryNotOnTheManagedHeap()
    {
        // torch.tensor(float[]) clones the array onto the large-object heap for every batch; the loader
        // copies into libtorch's memory instead and reuses its few buffers, so once they exist a batch
        // allocates next to nothing on the managed heap (memory stays flat over a run). Measured on the
        // consuming thread, where the batch tensors are made (other tests run beside this one).
        var loader = new BatchLoader(Subset.Train, 32, shuffle: true, augment: true, seed: 1);
        long atTen = 0, atSixty = 0, seen = 0;
        foreach (var batch in loader.Epoch(0))
        {
            batch.Dispose();
            seen++;
            if (seen == 10)
            {
                atTen = GC.GetAllocatedBytesForCurrentThread();
            }
            else if (seen == 60)
            {
                atSixty = GC.GetAllocatedBytesForCurrentThread();
            }
        }

        var batchBytes = 32L * ImageDataset.ImageBytes * sizeof(float);
        Assert.Equal(63, seen);
        Assert.True(atSixty - atTen < 2 * batchBytes, $"batches 11 to 60 allocated {(atSixty - atTen) / 1024} KiB of managed memory; one batch is {batchBytes / 1024} KiB");
        using var first = loader.Epoch(0).First();
        Assert.Equal([32L, 3, 32, 32], first.Images.shape);
        Assert.Equal(torch.ScalarType.Int64, first.Labels.dtype);

        // A reused buffer leaves nothing of an earlier batch in the next: the short last batch of an
        // epoch read with warm buffers equals the one a fresh loader makes.
        var odd = Subset.Train.Take((64 * 3) + 10);
        float[] Last(BatchLoader l) => l.Epoch(1).Select(b => { using (b) { return b.Images.data<float>().ToArray(); } }).Last();
        var warm = new BatchLoader(odd, 64, shuffle: true, augment: true, seed: 3);
        _ = Last(warm);
        var last = Last(warm);
        Assert.Equal(10 * ImageDataset.ImageBytes, last.Length);
        Assert.Equal(Last(new BatchLoader(odd, 64, shuffle: true, augment: true, seed: 3)), last);
    }

    [Fact]
    public void EvaluationBatchesAreNormalisedAndUnaugmented()
    {
        var data = Subset.Test.Take(8);
        using var batch = new BatchLoader(data, 8, shuffle: false, augment: false, seed: 0).Epoch(0).Single();
        var values = batch.Images.data<float>().ToArray();
        var pixel = data.Image(3)[(1 * 1024) + (5 * 32) + 7]; // G channel, y 5, x 7
        var expected = ((pixel / 255f) - BatchLoader.CifarMean[1]) / BatchLoader.CifarStd[1];
        Assert.Equal(expected, values[(3 * 3072) + 1024 + (5 * 32) + 7], 4);
        Assert.Equal(data.Labels[3], batch.Labels.data<long>()[3]);
    }

    [Fact]
    public void AugmentationCropsAndFlipsEachSampleOnItsOwn()
    {
        // One bright pixel at (y 10, x 5) of every image: after augmentation it moves by the crop offset
        // (within ±4) and mirrors with the flip, independently per sample.
        var bytes = new byte[64 * ImageDataset.ImageBytes];
        for (var i = 0; i < 64; i++)
        {
            for (var c = 0; c < 3; c++)
            {
                bytes[(i * ImageDataset.ImageBytes) + (c * 1024) + (10 * 32) + 5] = 255;
            }
        }

        var data = new ImageDataset(bytes, new byte[64], 10, "dot");
        using var batch = new BatchLoader(data, 64, shuffle: false, augment: true, seed: 5).Epoch(0).Single();
        var values = batch.Images.data<float>().ToArray();
        var positions = Enumerable.Range(0, 64).Select(i =>
        {
            var plane = values.AsSpan(i * 3072, 1024).ToArray();
            var at = Array.IndexOf(plane, plane.Max());
            return (Y: at / 32, X: at % 32);
        }).ToArray();
        Assert.All(positions, p => Assert.InRange(p.Y, 6, 14));
        Assert.All(positions, p => Assert.True(p.X is >= 1 and <= 9 || p.X is >= 22 and <= 30, $"x = {p.X}"));
        Assert.Contains(positions, p => p.X >= 22); // some flipped
        Assert.Contains(positions, p => p.X <= 9);  // some not
        Assert.True(positions.Distinct().Count() > 10);
    }
}
