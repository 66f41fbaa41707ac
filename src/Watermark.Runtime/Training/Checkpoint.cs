using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Watermark.Training;

/// <summary>
/// A training checkpoint: model weights, optimiser state (momentum buffers), the number of finished
/// epochs and the metrics so far. Layout: magic <c>WMKCKPT1</c>, a length-prefixed JSON header,
/// length-prefixed model and optimiser sections, and a SHA-256 of everything before it. Written
/// atomically; read only after the checksum and the model's parameter names and shapes agree, so a
/// corrupt or foreign file is refused before anything is loaded.
/// </summary>
public static class Checkpoint
{
    private static readonly byte[] Magic = "WMKCKPT1"u8.ToArray();
    private const long MaxBytes = 8L << 30;

    private sealed record Header(int Epochs, string Run, string Fingerprint, List<EpochMetrics> History);

    /// <summary>Writes a checkpoint atomically; <paramref name="run"/> describes the run (options, slots) that may resume it.</summary>
    public static void Save(string path, nn.Module model, OptimizerHelper optimizer, int finishedEpochs, string run, IReadOnlyList<EpochMetrics> history)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        var header = JsonSerializer.SerializeToUtf8Bytes(new Header(finishedEpochs, run, Fingerprint(model), [.. history]), JsonOptions);
        // TorchSharp closes the streams it writes to; MemoryStream.ToArray still works after that.
        var modelStream = new MemoryStream();
        model.save(modelStream);
        var modelBytes = modelStream.ToArray();
        var optimizerStream = new MemoryStream();
        using (var writer = new BinaryWriter(optimizerStream, Encoding.UTF8, leaveOpen: true))
        {
            optimizer.save_state_dict(writer);
        }

        var optimizerBytes = optimizerStream.ToArray();

        using var content = new MemoryStream();
        content.Write(Magic);
        using (var writer = new BinaryWriter(content, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(header.Length);
            writer.Write(header);
            writer.Write((long)modelBytes.Length);
            writer.Write(modelBytes);
            writer.Write((long)optimizerBytes.Length);
            writer.Write(optimizerBytes);
        }

        var hash = SHA256.HashData(content.GetBuffer().AsSpan(0, (int)content.Length));
        content.Write(hash);
        AtomicFile.Write(path, s => s.Write(content.GetBuffer(), 0, (int)content.Length));
    }

    /// <summary>
    /// Loads a checkpoint into <paramref name="model"/> and <paramref name="optimizer"/>; returns the
    /// finished epochs and the history. Throws <see cref="WatermarkException"/> naming the file when it
    /// is corrupt, truncated, or for another model.
    /// </summary>
    public static (int FinishedEpochs, List<EpochMetrics> History) Load(string path, nn.Module model, OptimizerHelper optimizer, string run)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new WatermarkException($"Checkpoint '{path}' not found.");
        }

        if (info.Length > MaxBytes || info.Length < Magic.Length + 4 + 8 + 8 + 32)
        {
            throw Corrupt(path, $"its size ({info.Length} bytes) is impossible for a checkpoint");
        }

        var bytes = File.ReadAllBytes(path);
        var body = bytes.AsSpan(0, bytes.Length - 32);
        if (!bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
        {
            throw Corrupt(path, "it does not start with WMKCKPT1 (not a checkpoint of this trainer)");
        }

        if (!SHA256.HashData(body).AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - 32)))
        {
            throw Corrupt(path, "its checksum does not match (truncated or damaged)");
        }

        var bodyLength = body.Length;
        var position = Magic.Length;
        int Section(int size)
        {
            var length = size == 4 ? BitConverter.ToInt32(bytes, position) : BitConverter.ToInt64(bytes, position);
            position += size;
            if (length < 0 || length > bodyLength - position)
            {
                throw Corrupt(path, "a section length points past the end");
            }

            return (int)length;
        }

        var headerLength = Section(4);
        Header header;
        try
        {
            header = JsonSerializer.Deserialize<Header>(bytes.AsSpan(position, headerLength), JsonOptions) ?? throw Corrupt(path, "empty header");
        }
        catch (JsonException)
        {
            throw Corrupt(path, "its header is not a checkpoint header of this version");
        }

        position += headerLength;
        if (header.Fingerprint != Fingerprint(model))
        {
            throw new WatermarkException($"Checkpoint '{path}' was written for a different model (parameter names or shapes differ); delete it or point --out elsewhere to start afresh.");
        }

        if (header.Run != run)
        {
            throw new WatermarkException($"Checkpoint '{path}' belongs to a run with other settings (options, seed, keys or target differ); resume with the same settings, or delete it to start afresh.");
        }

        var modelLength = Section(8);
        using (var modelStream = new MemoryStream(bytes, position, (int)modelLength, writable: false))
        {
            model.load(modelStream);
        }

        position += modelLength;
        var optimizerLength = Section(8);
        using (var optimizerStream = new MemoryStream(bytes, position, (int)optimizerLength, writable: false))
        using (var reader = new BinaryReader(optimizerStream))
        {
            optimizer.load_state_dict(reader);
        }

        return (header.Epochs, header.History);
    }

    /// <summary>Parameter and buffer names with shapes: what a checkpoint must agree with.</summary>
    internal static string Fingerprint(nn.Module model)
    {
        var text = string.Join(";", model.state_dict().Select(p => $"{p.Key}:{string.Join("x", p.Value.shape)}"));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    private static WatermarkException Corrupt(string path, string why) =>
        new($"Checkpoint '{path}' is refused: {why}. Nothing was loaded; delete it to start afresh or restore it from a backup.");

    private static readonly JsonSerializerOptions JsonOptions = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };
}
