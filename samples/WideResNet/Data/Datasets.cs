using System;
using System.Collections.Generic;
using System.Formats.Tar;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Net.Http;
using System.Security.Cryptography;
using Watermark;

namespace WideResNet.Data;

/// <summary>
/// Finds the paper's datasets. The folder comes from the caller (a <c>--data</c> option), else from
/// the <c>WATERMARK_DATA</c> environment variable; CIFAR-10 falls back to the official download
/// (checksum-checked) into <c>~/.cache/watermark</c>. Files may be raw (.bin) or gzip-compressed (.bin.gz).
/// </summary>
public static class Datasets
{
    /// <summary>The environment variable naming the data folder.</summary>
    public const string EnvironmentVariable = "WATERMARK_DATA";

    private const string CifarUrl = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
    private const string CifarMd5 = "c32a1d4ab5d03f1284b67883e8d87530";
    private const string CifarFolder = "cifar-10-batches-bin";
    private const string CaltechFolder = "caltech101-32x32";

    /// <summary>CIFAR-10: 50,000 training and 10,000 test images of 10 classes.</summary>
    public static (ImageDataset Train, ImageDataset Test) Cifar10(string? folder = null, bool download = true, TextWriter? log = null)
    {
        var root = Locate(folder, CifarFolder, "data_batch_1.bin");
        if (root is null && download && folder is null)
        {
            root = Download(log ?? TextWriter.Null);
        }

        if (root is null)
        {
            throw Missing("CIFAR-10", folder, CifarFolder, "data_batch_1.bin[.gz] … data_batch_5.bin[.gz] and test_batch.bin[.gz]");
        }

        var train = Enumerable.Range(1, 5).Select(i => Find(root, $"data_batch_{i}.bin")).ToArray();
        return (ImageDataset.ReadRecords(train, 10, "CIFAR-10 train"), ImageDataset.ReadRecords([Find(root, "test_batch.bin")], 10, "CIFAR-10 test"));
    }

    /// <summary>Caltech-101 resized to 32×32 (101 classes; 30 training and up to 40 test images each).</summary>
    public static (ImageDataset Train, ImageDataset Test) Caltech101(string? folder = null)
    {
        var root = Locate(folder, CaltechFolder, "train.bin")
            ?? throw Missing("Caltech-101 (32×32)", folder, CaltechFolder, "train.bin[.gz] and test.bin[.gz]");
        return (ImageDataset.ReadRecords([Find(root, "train.bin")], 101, "Caltech-101 train"), ImageDataset.ReadRecords([Find(root, "test.bin")], 101, "Caltech-101 test"));
    }

    /// <summary>
    /// The small real CIFAR-10 subset committed with the project (2,000 training, 1,000 test images),
    /// for tests and the demo. <paramref name="folder"/> holds train.bin.gz and test.bin.gz.
    /// </summary>
    public static (ImageDataset Train, ImageDataset Test) Cifar10Subset(string folder) =>
        (ImageDataset.ReadRecords([Find(folder, "train.bin")], 10, "CIFAR-10 subset train"), ImageDataset.ReadRecords([Find(folder, "test.bin")], 10, "CIFAR-10 subset test"));

    // The folder itself, or its child named like the dataset, holding the probe file (raw or .gz).
    private static string? Locate(string? folder, string child, string probe)
    {
        var candidates = new List<string>();
        foreach (var baseFolder in new[] { folder, folder is null ? Environment.GetEnvironmentVariable(EnvironmentVariable) : null, folder is null ? CacheFolder() : null })
        {
            if (string.IsNullOrEmpty(baseFolder))
            {
                continue;
            }

            candidates.Add(baseFolder);
            candidates.Add(Path.Combine(baseFolder, child));
        }

        return candidates.FirstOrDefault(c => File.Exists(Path.Combine(c, probe)) || File.Exists(Path.Combine(c, probe + ".gz")));
    }

    private static string Find(string folder, string name)
    {
        var raw = Path.Combine(folder, name);
        if (File.Exists(raw))
        {
            return raw;
        }

        var gz = raw + ".gz";
        return File.Exists(gz) ? gz : throw new FileNotFoundException($"'{name}' (or '{name}.gz') is missing from '{folder}'.", raw);
    }

    private static DirectoryNotFoundException Missing(string dataset, string? folder, string child, string files)
    {
        var where = folder ?? Environment.GetEnvironmentVariable(EnvironmentVariable);
        var searched = where is null ? $"no folder was given and {EnvironmentVariable} is not set" : $"'{where}' and '{Path.Combine(where, child)}' do not hold it";
        return new DirectoryNotFoundException($"{dataset} not found: {searched}. Pass --data DIR (or set {EnvironmentVariable}) to a folder holding {files}.");
    }

    private static string CacheFolder() =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "watermark");

    // The official archive, checked against its published MD5 before it is unpacked.
    private static string? Download(TextWriter log)
    {
        var target = CacheFolder();
        var archive = Path.Combine(target, "cifar-10-binary.tar.gz");
        try
        {
            Directory.CreateDirectory(target);
            log.WriteLine($"CIFAR-10 not found locally; downloading {CifarUrl} …");
            using (var client = new HttpClient { Timeout = TimeSpan.FromMinutes(30) })
            {
                var bytes = client.GetByteArrayAsync(new Uri(CifarUrl)).GetAwaiter().GetResult();
#pragma warning disable CA5351 // MD5 is the checksum the dataset's authors publish; it guards integrity, not secrets.
                var md5 = Convert.ToHexStringLower(MD5.HashData(bytes));
#pragma warning restore CA5351
                if (md5 != CifarMd5)
                {
                    throw new InvalidDataException($"the download's MD5 is {md5}, expected {CifarMd5}");
                }

                AtomicFile.Write(archive, s => s.Write(bytes));
            }

            using (var file = File.OpenRead(archive))
            using (var gzip = new GZipStream(file, CompressionMode.Decompress))
            {
                TarFile.ExtractToDirectory(gzip, target, overwriteFiles: true);
            }

            File.Delete(archive);
            log.WriteLine($"CIFAR-10 saved to {Path.Combine(target, CifarFolder)}");
            return Path.Combine(target, CifarFolder);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or InvalidDataException or System.Threading.Tasks.TaskCanceledException or UnauthorizedAccessException)
        {
            log.WriteLine($"CIFAR-10 download failed: {e.Message}");
            return null;
        }
    }
}
