using System;
using System.IO;
using Xunit;

namespace WideResNet.Tests;

/// <summary>The repository, and a CIFAR-10 folder laid out like the real one, built from the committed subset.</summary>
internal static class SampleData
{
    public static string Repository { get; } = FindRepository();

    /// <summary>
    /// A folder holding <c>cifar-10-batches-bin/</c> as <see cref="Data.Datasets.Cifar10"/> reads it:
    /// the committed subset's 2,000 real training images as each of the five training batches, and its
    /// 1,000 test images as the test batch.
    /// </summary>
    public static string CifarFolder(string root)
    {
        var subset = Path.Combine(Repository, "data", "cifar10-subset");
        var batches = Directory.CreateDirectory(Path.Combine(root, "data", "cifar-10-batches-bin")).FullName;
        for (var i = 1; i <= 5; i++)
        {
            File.Copy(Path.Combine(subset, "train.bin.gz"), Path.Combine(batches, $"data_batch_{i}.bin.gz"));
        }

        File.Copy(Path.Combine(subset, "test.bin.gz"), Path.Combine(batches, "test_batch.bin.gz"));
        return Path.Combine(root, "data");
    }

    private static string FindRepository()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Plugin.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException($"no Plugin.sln above {AppContext.BaseDirectory}");
    }
}

/// <summary>The committed CIFAR-10 subset through the sample's reader.</summary>
internal static class Subset
{
    private static readonly Lazy<(Data.ImageDataset Train, Data.ImageDataset Test)> Sets =
        new(() => Data.Datasets.Cifar10Subset(Path.Combine(AppContext.BaseDirectory, "data", "cifar10-subset")));

    public static Data.ImageDataset Train => Sets.Value.Train;

    public static Data.ImageDataset Test => Sets.Value.Test;
}

/// <summary>TorchSharp's global state (seed, threads) is shared: these tests run one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SequentialTorch
{
    public const string Name = "sequential torch";
}
