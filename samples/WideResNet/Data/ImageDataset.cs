using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.IO.Compression;

namespace WideResNet.Data;

/// <summary>
/// Labelled 32×32 RGB images held as bytes (N × 3 × 32 × 32, CHW) — the CIFAR binary record layout:
/// 1 label byte followed by 3,072 pixel bytes (R plane, G plane, B plane, each row-major).
/// Files may be raw or gzip-compressed.
/// </summary>
public sealed class ImageDataset
{
    /// <summary>Bytes of one image: 3 × 32 × 32.</summary>
    public const int ImageBytes = 3 * 32 * 32;

    /// <summary>Bytes of one record: label + image.</summary>
    public const int RecordBytes = 1 + ImageBytes;

    private readonly byte[] pixels;
    private readonly byte[] labels;

    /// <summary>Creates a dataset from CHW pixel bytes and labels.</summary>
    public ImageDataset(byte[] pixels, byte[] labels, int classes, string name)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        if (pixels.Length != (long)labels.Length * ImageBytes)
        {
            throw new ArgumentException($"{labels.Length} labels need {(long)labels.Length * ImageBytes} pixel bytes; {pixels.Length} were given.", nameof(pixels));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 2);
        foreach (var label in labels)
        {
            if (label >= classes)
            {
                throw new ArgumentException($"Dataset '{name}' has label {label} but only {classes} classes.", nameof(labels));
            }
        }

        this.pixels = pixels;
        this.labels = labels;
        Classes = classes;
        Name = name;
    }

    /// <summary>What the data is, for messages and result files.</summary>
    public string Name { get; }

    /// <summary>Number of images.</summary>
    public int Count => labels.Length;

    /// <summary>Number of classes.</summary>
    public int Classes { get; }

    /// <summary>All labels.</summary>
    public ReadOnlySpan<byte> Labels => labels;

    /// <summary>The CHW bytes of image <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> Image(int index) => pixels.AsSpan(index * ImageBytes, ImageBytes);

    /// <summary>The first <paramref name="count"/> images (e.g. a quick subset).</summary>
    public ImageDataset Take(int count)
    {
        count = Math.Min(count, Count);
        return new ImageDataset(pixels[..(count * ImageBytes)], labels[..count], Classes, $"{Name}[:{count}]");
    }

    /// <summary>
    /// Reads CIFAR-style binary record files (raw or .gz) in order. Labels must be below
    /// <paramref name="classes"/>; a file whose length is not a whole number of records is refused.
    /// </summary>
    public static ImageDataset ReadRecords(IReadOnlyList<string> files, int classes, string name)
    {
        ArgumentNullException.ThrowIfNull(files);
        // Raw record files say how many images they hold: the buffer is allocated once, at its final
        // size, and becomes the dataset without a copy (CIFAR-10's 150 MB would otherwise leave ~400 MB
        // of doubled and copied buffers behind on the large-object heap).
        var sizes = files.Select(f => new FileInfo(f)).ToList();
        var expected = sizes.All(f => f.Exists && !f.Name.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) && f.Length % RecordBytes == 0)
            ? sizes.Sum(f => f.Length / RecordBytes)
            : 0;
        var pixelBuffer = new MemoryStream(checked((int)(expected * ImageBytes)));
        var labelBuffer = new List<byte>();
        var record = new byte[RecordBytes];
        foreach (var file in files)
        {
            if (!File.Exists(file))
            {
                throw new FileNotFoundException($"Data file '{file}' not found.", file);
            }

            using var raw = File.OpenRead(file);
            using var stream = IsGzip(raw) ? (Stream)new GZipStream(raw, CompressionMode.Decompress) : raw;
            var index = 0;
            while (true)
            {
                var read = stream.ReadAtLeast(record, RecordBytes, throwOnEndOfStream: false);
                if (read == 0)
                {
                    break;
                }

                if (read < RecordBytes)
                {
                    throw new InvalidDataException($"Data file '{file}' ends inside record {index} ({read} of {RecordBytes} bytes): truncated download or not a CIFAR binary file.");
                }

                if (record[0] >= classes)
                {
                    throw new InvalidDataException($"Data file '{file}': record {index} has label {record[0]}, but this dataset has {classes} classes; is it the right file?");
                }

                labelBuffer.Add(record[0]);
                pixelBuffer.Write(record, 1, ImageBytes);
                index++;
            }
        }

        if (labelBuffer.Count == 0)
        {
            throw new InvalidDataException($"Dataset '{name}': the files hold no records.");
        }

        var pixels = pixelBuffer.Length == pixelBuffer.Capacity ? pixelBuffer.GetBuffer() : pixelBuffer.ToArray();
        return new ImageDataset(pixels, [.. labelBuffer], classes, name);
    }

    private static bool IsGzip(Stream stream)
    {
        Span<byte> magic = stackalloc byte[2];
        var read = stream.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        stream.Position = 0;
        return read == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }
}
