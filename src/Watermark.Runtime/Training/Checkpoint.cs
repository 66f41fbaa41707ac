using System;
using System.Collections.Generic;
using System.Globalization;
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
/// atomically and owner-only (its run tag holds the keys' target bits); read only after the checksum,
/// the layout, the model's parameter names and shapes and every header field agree, so a corrupt,
/// crafted or foreign file is refused before anything is loaded.
/// </summary>
public static class Checkpoint
{
    private static readonly byte[] Magic = "WMKCKPT1"u8.ToArray();

    // One byte less than the largest array, so that MaxBytes + 1 bytes (one too many) can be read; Save
    // builds the file in a MemoryStream, so nothing larger is ever written.
    private static readonly int MaxBytes = Array.MaxLength - 1;

    private sealed record Header(int Epochs, string Run, string Fingerprint, List<EpochMetrics> History);

    /// <summary>
    /// Writes a checkpoint atomically, readable by its owner only (mode 0600 on Unix); <paramref name="run"/>
    /// describes the run (options, slots) that may resume it. Where <paramref name="path"/> is a symbolic
    /// link, the file it names is replaced and the link stays.
    /// </summary>
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
        // Owner-only: the header's run tag holds the keys' target bits. Through a symbolic link the file
        // it names is replaced, so that the link (a checkpoint kept on another disk) stays.
        AtomicFile.Write(WriteTarget(path), s => s.Write(content.GetBuffer(), 0, (int)content.Length), ownerOnly: true);
    }

    // The file a symbolic link at path finally names, or path itself (no link, or nothing there yet).
    private static string WriteTarget(string path)
    {
        try
        {
            return File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName ?? path;
        }
        catch (IOException)
        {
            return path;
        }
    }

    /// <summary>
    /// Loads a checkpoint into <paramref name="model"/> and <paramref name="optimizer"/>; returns the
    /// finished epochs and the history. The file is read through one opened stream (a symbolic link
    /// leads to the file it names) and only after its checksum, its layout and every header field
    /// agree with this model and run (<paramref name="run"/>, at most <paramref name="totalEpochs"/>
    /// finished epochs, one history entry per epoch) is anything loaded. Should TorchSharp refuse the
    /// model or optimiser section half-way, or the optimiser section carry other hyperparameters or
    /// buffers of other shapes, the state both held before is put back, so a refused checkpoint leaves
    /// them as they were. Throws <see cref="WatermarkException"/> naming the file and the fix when it is
    /// missing, unreadable, corrupt, truncated, crafted, or for another model or run.
    /// </summary>
    public static (int FinishedEpochs, List<EpochMetrics> History) Load(string path, nn.Module model, OptimizerHelper optimizer, string run, int totalEpochs)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        var bytes = Read(path);
        var bodyLength = bytes.Length - 32;
        var body = bytes.AsSpan(0, bodyLength);
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(bytes.AsSpan(bodyLength, 32)))
        {
            throw Corrupt(path, "its checksum does not match (truncated or damaged)");
        }

        var position = Magic.Length;
        (int Start, int Length) Section(int size)
        {
            if (size > bodyLength - position)
            {
                throw Corrupt(path, "a section length points past the end");
            }

            var sectionLength = size == 4 ? BitConverter.ToInt32(bytes, position) : BitConverter.ToInt64(bytes, position);
            position += size;
            if (sectionLength < 0 || sectionLength > bodyLength - position)
            {
                throw Corrupt(path, "a section length points past the end");
            }

            var start = position;
            position += (int)sectionLength;
            return (start, (int)sectionLength);
        }

        var headerSection = Section(4);
        var modelSection = Section(8);
        var optimizerSection = Section(8);
        if (position != bodyLength)
        {
            throw Corrupt(path, $"it holds {bodyLength - position} bytes after its last section");
        }

        Header? header;
        try
        {
            header = JsonSerializer.Deserialize<Header>(bytes.AsSpan(headerSection.Start, headerSection.Length), JsonOptions);
        }
        catch (JsonException)
        {
            throw Corrupt(path, "its header is not a checkpoint header of this version");
        }

        var history = Validate(path, header, model, run, totalEpochs);
        LoadSections(path, model, optimizer, new MemoryStream(bytes, modelSection.Start, modelSection.Length, writable: false), new MemoryStream(bytes, optimizerSection.Start, optimizerSection.Length, writable: false));
        return (history.Count, history);
    }

    // Opens the file once and reads at most MaxBytes + 1 bytes from that stream: its size is what the
    // opened file holds (a link's own size, or a file that grows meanwhile, cannot mislead it).
    private static byte[] Read(string path)
    {
        // A link whose file is gone: say which file is missing.
        var target = new FileInfo(path).LinkTarget;
        var missing = target is null
            ? "not found."
            : $"is a symbolic link to '{target}', which does not exist; restore that file, or delete the link to start afresh.";
        try
        {
            using var stream = InputFile.Open(path, problem => new WatermarkException($"Checkpoint '{path}' {problem}"), missing);
            // The magic first, so that a stranger file is not read to its end.
            Span<byte> start = stackalloc byte[Magic.Length];
            if (stream.ReadAtLeast(start, start.Length, throwOnEndOfStream: false) == Magic.Length && !start.SequenceEqual(Magic))
            {
                throw Corrupt(path, "it does not start with WMKCKPT1 (not a checkpoint of this trainer)");
            }

            stream.Position = 0;
            var bytes = InputFile.ReadAll(stream, MaxBytes) ?? throw Corrupt(path, $"it holds more than {MaxBytes} bytes, more than any checkpoint");
            if (bytes.Length < Magic.Length + 4 + 8 + 8 + 32)
            {
                throw Corrupt(path, $"its size ({bytes.Length} bytes) is impossible for a checkpoint");
            }

            return bytes;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new WatermarkException($"Checkpoint '{path}' cannot be read ({e.Message}); make it a readable file, or delete it to start afresh.", e);
        }
    }

    // Every header field against this model and run, before anything is loaded.
    private static List<EpochMetrics> Validate(string path, Header? header, nn.Module model, string run, int totalEpochs)
    {
        if (header is null || header.Fingerprint is null || header.Run is null)
        {
            throw Corrupt(path, "its header lacks the model's fingerprint or the run's settings");
        }

        if (header.Fingerprint != Fingerprint(model))
        {
            throw new WatermarkException($"Checkpoint '{path}' was written for a different model (parameter names or shapes differ); delete it or point --out elsewhere to start afresh.");
        }

        if (header.Run != run)
        {
            throw new WatermarkException($"Checkpoint '{path}' belongs to a run with other settings (options, seed, keys or target differ); resume with the same settings, or delete it to start afresh.");
        }

        if (header.Epochs < 1)
        {
            throw Corrupt(path, $"its header says {header.Epochs} finished epochs; a checkpoint is written after at least 1");
        }

        if (header.Epochs > totalEpochs)
        {
            throw Refused(path, $"it holds {header.Epochs} finished epochs, more than the {totalEpochs} of this run", $"train for at least {header.Epochs} epochs to resume it, or delete it to start afresh");
        }

        if (header.History is not { } history || history.Count != header.Epochs)
        {
            throw Corrupt(path, $"its history holds {header.History?.Count.ToString(CultureInfo.InvariantCulture) ?? "no"} epochs but its header says {header.Epochs}");
        }

        for (var i = 0; i < history.Count; i++)
        {
            if (history[i] is null || history[i].Epoch != i + 1)
            {
                throw Corrupt(path, $"its history's entry {i + 1} is missing or numbered {history[i]?.Epoch}");
            }
        }

        return history;
    }

    // Loads both sections; on any failure both are put back from a copy taken first, so that a
    // half-loaded model (TorchSharp copies tensor by tensor) never outlives the refusal.
    private static void LoadSections(string path, nn.Module model, OptimizerHelper optimizer, MemoryStream modelStream, MemoryStream optimizerStream)
    {
        var modelBackup = new MemoryStream();
        using (var writer = new BinaryWriter(modelBackup, Encoding.UTF8, leaveOpen: true))
        {
            model.save(writer);
        }

        var optimizerBackup = new MemoryStream();
        using (var writer = new BinaryWriter(optimizerBackup, Encoding.UTF8, leaveOpen: true))
        {
            optimizer.save_state_dict(writer);
        }

        var hyperparameters = Hyperparameters(optimizer);
        var section = "model";
        try
        {
            using (var reader = new BinaryReader(modelStream, Encoding.UTF8, leaveOpen: true))
            {
                model.load(reader);
            }

            LeftOver(modelStream);
            section = "optimiser";
            using (var reader = new BinaryReader(optimizerStream, Encoding.UTF8, leaveOpen: true))
            {
                optimizer.load_state_dict(reader);
            }

            LeftOver(optimizerStream);
            CheckOptimizer(optimizer, hyperparameters);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            try
            {
                modelBackup.Position = 0;
                optimizerBackup.Position = 0;
                using (var reader = new BinaryReader(modelBackup))
                {
                    model.load(reader);
                }

                using (var reader = new BinaryReader(optimizerBackup))
                {
                    optimizer.load_state_dict(reader);
                }
            }
            catch (Exception restore) when (restore is not OutOfMemoryException)
            {
                throw new WatermarkException($"Checkpoint '{path}' is refused: its {section} section cannot be loaded ({e.Message}), and the model and optimiser could not be put back as they were ({restore.Message}), so they may be partly loaded: create them afresh before using them, and delete the checkpoint to start afresh.", e);
            }

            throw Corrupt(path, $"its {section} section cannot be loaded ({e.Message})", e);
        }
    }

    // TorchSharp stops where its format ends; bytes after that mean the section is not what was written.
    private static void LeftOver(MemoryStream stream)
    {
        if (stream.Position != stream.Length)
        {
            throw new InvalidDataException($"{stream.Length - stream.Position} bytes are left over after it");
        }
    }

    // The optimiser's options per group (the learning rate aside, which the trainer sets each epoch).
    private static List<(double? Momentum, double? Dampening, double? WeightDecay, bool? Nesterov, bool? Maximize)> Hyperparameters(OptimizerHelper optimizer) =>
        [.. optimizer.state_dict().Options.OfType<SGD.Options>().Select(o => (o.momentum, o.dampening, o.weight_decay, o.nesterov, o.maximize))];

    // The section restores the options the optimiser was built with (the run tag already holds them) and a
    // momentum buffer per parameter of that parameter's shape and type; anything else is crafted.
    private static void CheckOptimizer(OptimizerHelper optimizer, List<(double? Momentum, double? Dampening, double? WeightDecay, bool? Nesterov, bool? Maximize)> before)
    {
        if (!Hyperparameters(optimizer).SequenceEqual(before))
        {
            throw new InvalidDataException("its momentum, dampening, weight decay or Nesterov setting differs from the run's");
        }

        var parameters = optimizer.ParamGroups.OfType<ParamGroup>().SelectMany(g => g.Parameters).ToList();
        var states = optimizer.state_dict().State;
        for (var i = 0; i < states.Count && i < parameters.Count; i++)
        {
            if (states[i] is SGD.State { momentum_buffer: { } buffer } && (buffer.dtype != parameters[i].dtype || !buffer.shape.SequenceEqual(parameters[i].shape)))
            {
                throw new InvalidDataException($"a momentum buffer has shape [{string.Join(", ", buffer.shape)}] for a parameter of shape [{string.Join(", ", parameters[i].shape)}]");
            }
        }
    }

    /// <summary>Parameter and buffer names with shapes: what a checkpoint must agree with.</summary>
    internal static string Fingerprint(nn.Module model)
    {
        var text = string.Join(";", model.state_dict().Select(p => $"{p.Key}:{string.Join("x", p.Value.shape)}"));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    private static WatermarkException Corrupt(string path, string why, Exception? inner = null) =>
        Refused(path, why, "delete it to start afresh or restore it from a backup", inner);

    private static WatermarkException Refused(string path, string why, string fix, Exception? inner = null)
    {
        var message = $"Checkpoint '{path}' is refused: {why}. Nothing was loaded; {fix}.";
        return inner is null ? new(message) : new(message, inner);
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };
}
