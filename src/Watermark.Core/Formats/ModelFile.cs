using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Watermark.Formats;

/// <summary>
/// The index of a model file (names, shapes, element types and where the values lie), read in
/// managed code without libtorch. Opening reads only the headers; values are read on demand, one
/// tensor at a time. Every malformed input ends in a <see cref="ModelFormatException"/>.
/// A model may span several files (<see cref="Parts"/>): a sharded safetensors index and its shards, an
/// ONNX model and its external data files; those it names must lie inside its folder.
/// </summary>
public sealed partial class ModelFile
{
    private readonly ModelParts parts;

    private ModelFile(string source, ModelFormat format, ImmutableArray<TensorEntry> tensors, ModelParts parts)
    {
        Source = source;
        Format = format;
        Tensors = tensors;
        this.parts = parts;
        Parts = parts.Paths;
    }

    /// <summary>The path (or name) of the file, as errors print it.</summary>
    public string Source { get; }

    /// <summary>The file's format.</summary>
    public ModelFormat Format { get; }

    /// <summary>The tensors in file order (for a sharded safetensors model, the index's order).</summary>
    public ImmutableArray<TensorEntry> Tensors { get; }

    /// <summary>
    /// The full paths of every file the model reads, each once: the file opened first, then the shards of a
    /// sharded safetensors index (in name order) or the external data files of an ONNX model (in the order its
    /// initializers first name them). Paths are as named, inside the opened file's folder (links unresolved).
    /// One path for a single-file model; for a model read from memory, its source name.
    /// </summary>
    public ImmutableArray<string> Parts { get; }

    /// <summary>The length in bytes of part <paramref name="part"/> of <see cref="Parts"/>, as it was when the model was opened.</summary>
    internal long PartLength(int part) => parts.Length(part);

    /// <summary>The format's name for messages, e.g. <c>TorchSharp .dat</c>.</summary>
    public static string FormatName(ModelFormat format) => format switch
    {
        ModelFormat.TorchSharpDat => "TorchSharp .dat",
        ModelFormat.Safetensors => "safetensors",
        ModelFormat.PyTorchCheckpoint => "PyTorch checkpoint",
        _ => "ONNX",
    };

    /// <summary>
    /// The format of a file: safetensors is recognised by its header and a PyTorch checkpoint by its start
    /// (a zip archive, or the legacy format's pickled magic number), whatever the extension; otherwise the
    /// name decides (<c>.dat</c>/<c>.bin</c>: TorchSharp, <c>.onnx</c>: ONNX, <c>.safetensors</c> and a
    /// sharded model's <c>.safetensors.index.json</c>: safetensors, <c>.pt</c>/<c>.pth</c>/<c>.ckpt</c>:
    /// PyTorch). Null when neither tells.
    /// </summary>
    public static ModelFormat? Detect(string path, ReadOnlySpan<byte> start, long length)
    {
        if (PyTorchCheckpoint.LooksLike(start))
        {
            return ModelFormat.PyTorchCheckpoint;
        }

        if (Safetensors.LooksLike(start, length))
        {
            return ModelFormat.Safetensors;
        }

        return ShardedSafetensors.IsIndexName(path) ? ModelFormat.Safetensors : FormatFromExtension(path);
    }

    /// <summary>The format an extension names, or null.</summary>
    public static ModelFormat? FormatFromExtension(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".dat" or ".bin" => ModelFormat.TorchSharpDat,
        ".safetensors" => ModelFormat.Safetensors,
        ".onnx" => ModelFormat.Onnx,
        ".pt" or ".pth" or ".ckpt" => ModelFormat.PyTorchCheckpoint,
        _ => null,
    };

    /// <summary>
    /// Opens a model file; <paramref name="format"/> overrides detection. Only a regular file is read
    /// (links are followed): a folder, pipe or device is refused before anything is read from it.
    /// A sharded safetensors model is opened by its index (<c>model.safetensors.index.json</c>, or any JSON
    /// index with <see cref="ModelFormat.Safetensors"/> given); an ONNX model's external data files are found
    /// beside it. Only headers are read: the shards' and the ONNX graph's.
    /// </summary>
    public static ModelFile Open(string path, ModelFormat? format = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            using var stream = OpenRead(path);
            return Read(stream, path, format, ModelParts.ForFile(path, () => OpenRead(path)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(path, $"cannot be read: {e.Message}");
        }
    }

    /// <summary>
    /// Reads a model held in memory (tests, fuzzing); <paramref name="source"/> names it in errors. A model
    /// that names other files (a sharded safetensors index, ONNX external data) is refused: there is no folder to find them in.
    /// </summary>
    public static ModelFile Read(byte[] content, string source, ModelFormat? format = null)
    {
        ArgumentNullException.ThrowIfNull(content);
        using var stream = new MemoryStream(content, writable: false);
        return Read(stream, source, format, ModelParts.InMemory(source, () => new MemoryStream(content, writable: false)));
    }

    private static ModelFile Read(Stream stream, string source, ModelFormat? format, ModelParts parts)
    {
        var cursor = new FileCursor(stream, source);
        Span<byte> start = stackalloc byte[9];
        start = start[..stream.ReadAtLeast(start, start.Length, throwOnEndOfStream: false)];
        stream.Position = 0;
        format ??= Detect(source, start, cursor.Length)
            ?? throw cursor.Error("unknown format: it is neither safetensors nor a PyTorch checkpoint, and its name does not end in .dat, .bin, .safetensors, .safetensors.index.json, .onnx, .pt, .pth or .ckpt; rename it or pass --format dat|safetensors|onnx|pytorch.");

        parts.SetFirstLength(cursor.Length);
        if (cursor.Length == 0)
        {
            throw cursor.Error($"is empty (0 bytes); it cannot be a {FormatName(format.Value)} model.");
        }

        var entries = format switch
        {
            ModelFormat.TorchSharpDat => TorchSharpDat.ReadIndex(cursor),
            // The content decides: a safetensors file starts with its header length, an index with '{'.
            ModelFormat.Safetensors when !Safetensors.LooksLike(start, cursor.Length) && ShardedSafetensors.StartsLikeJson(start) => ShardedSafetensors.ReadIndex(cursor, parts),
            ModelFormat.Safetensors => Safetensors.ReadIndex(cursor),
            ModelFormat.PyTorchCheckpoint => PyTorchCheckpoint.ReadIndex(cursor),
            _ => Onnx.ReadIndex(cursor, parts),
        };
        if (entries.Count == 0)
        {
            throw cursor.Error($"holds no tensors; an empty {FormatName(format.Value)} file cannot carry or be checked for a mark.");
        }

        // Any name twice would let two readers (this one, TorchSharp's loader) take different tensors for it.
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            if (!names.Add(entry.Name))
            {
                throw cursor.Error($"holds two tensors named '{Shapes.Printable(entry.Name)}'; a reader could take either, so the file cannot be verified. A genuine {FormatName(format.Value)} file never repeats a name.");
            }
        }

        return new ModelFile(source, format.Value, [.. entries], parts);
    }

    private static FileStream OpenRead(string path) =>
        InputFile.Open(path, problem => new ModelFormatException(path, problem), "not found; check the path.");

    /// <summary>
    /// The tensor named <paramref name="name"/>. The error suggests the names that could be meant (the
    /// same name with <c>.weight</c>, or one a few edits away) and lists weights to choose from;
    /// <paramref name="hint"/>, when given, is added (e.g. that the key file may belong to another model).
    /// </summary>
    public TensorEntry Find(string name, string? hint = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        foreach (var entry in Tensors)
        {
            if (entry.Name == name)
            {
                return entry;
            }
        }

        var close = Tensors.Select(t => t.Name)
            .Where(n => n == name + ".weight" || n.EndsWith("." + name, StringComparison.Ordinal) || Names.EditDistance(n, name, 3) <= 3)
            .OrderBy(n => n == name + ".weight" ? 0 : Names.EditDistance(n, name, 3))
            .Take(3)
            .Select(n => $"'{n}'")
            .ToList();
        var candidates = Tensors.Where(t => t.Shape.Length >= 2 && t.DType.IsReal()).Select(t => t.Name).Take(12).ToList();
        var meant = close.Count > 0 ? $" Did you mean {string.Join(" or ", close)}?" : string.Empty;
        var weights = candidates.Count == 0 ? "It holds no weight tensors" : $"Its weights include {string.Join(", ", candidates)}";
        var shard = Format == ModelFormat.Safetensors && Parts.Length == 1 && ShardName().IsMatch(Source)
            ? " It looks like one shard of a sharded model: open the model's .safetensors.index.json instead."
            : string.Empty;
        throw new ModelFormatException(Source, $"has no tensor named '{name}'.{meant} {weights}; run 'watermark inspect --model {Source}' to list them all.{shard}{(hint is null ? string.Empty : " " + hint)}");
    }

    /// <summary>The values of a float16/bfloat16/float32/float64 tensor as row-major float32.</summary>
    public float[] ReadFloat32(TensorEntry entry)
    {
        var bytes = ReadBytes(entry);
        if (!entry.DType.IsReal())
        {
            throw new ModelFormatException(Source, $"tensor '{entry.Name}' is {entry.DTypeName}; a watermark host weight is float32, float16, bfloat16 or float64.");
        }

        if (entry.ElementCount > Array.MaxLength)
        {
            throw new ModelFormatException(Source, $"tensor '{entry.Name}' has {entry.ElementCount} elements, more than one array holds.");
        }

        var values = new float[entry.ElementCount];
        TensorDTypes.ToSingle(entry.DType, bytes, values);
        return values;
    }

    /// <summary>
    /// The values of a real tensor as row-major float32 into <paramref name="destination"/> (exactly
    /// <see cref="TensorEntry.ElementCount"/> long): a float32 tensor stored row-major is read straight into it, with
    /// no copy in between, so a caller that reuses its buffer (a scan over thousands of files) allocates nothing per tensor.
    /// </summary>
    internal void ReadFloat32(TensorEntry entry, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (!entry.DType.IsReal())
        {
            throw new ModelFormatException(Source, $"tensor '{entry.Name}' is {entry.DTypeName}; a watermark host weight is float32, float16, bfloat16 or float64.");
        }

        if (destination.Length != entry.ElementCount)
        {
            throw new ArgumentException($"Tensor '{entry.Name}' has {entry.ElementCount} elements; the buffer holds {destination.Length}.", nameof(destination));
        }

        if (entry.DType != TensorDType.Float32 || !BitConverter.IsLittleEndian || !entry.Contiguous || !entry.Strides.IsDefault || entry.DataLength != destination.Length * 4L)
        {
            TensorDTypes.ToSingle(entry.DType, ReadBytes(entry), destination);
            return;
        }

        try
        {
            using var stream = parts.Open(entry.Part);
            var cursor = new FileCursor(stream, Parts[entry.Part]);
            cursor.Seek(entry.DataOffset);
            cursor.ReadExactly(MemoryMarshal.AsBytes(destination), $"the values of '{entry.Name}'");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(Source, $"cannot be read: {e.Message}");
        }
    }

    /// <summary>The stored little-endian values of a tensor.</summary>
    public byte[] ReadBytes(TensorEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (!entry.Contiguous)
        {
            throw new ModelFormatException(Source, $"tensor '{entry.Name}' ({entry.DTypeName}) stores its values in an ONNX field this reader does not decode (it reads raw_data, float_data of float32 and double_data of float64); re-export the model with raw_data.");
        }

        var length = Math.Max(entry.DataLength, entry.ElementCount * entry.DType.Size());
        if (length > Array.MaxLength)
        {
            throw new ModelFormatException(Source, $"tensor '{entry.Name}' is {length} bytes, more than one array holds.");
        }

        try
        {
            using var stream = parts.Open(entry.Part);
            var cursor = new FileCursor(stream, Parts[entry.Part]);
            cursor.Seek(entry.DataOffset);
            var bytes = cursor.ReadBytes(entry.DataLength, $"the values of '{entry.Name}'");
            // A strided view (a transposed or sliced PyTorch tensor) is gathered into row-major order.
            return entry.Strides.IsDefault ? bytes : PyTorchCheckpoint.Gather(bytes, entry.Shape, entry.Strides, entry.DType.Size(), entry.ElementCount);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(Source, $"cannot be read: {e.Message}");
        }
    }

    /// <summary>Every tensor with its values, e.g. to write the model in another format.</summary>
    public IReadOnlyList<StoredTensor> ReadAll() =>
        [.. Tensors.Select(t => new StoredTensor(t.Name, t.Shape, t.DType, ReadBytes(t)))];

    /// <summary>
    /// Writes a copy of this file, byte for byte, with one real tensor's values replaced (kept in its
    /// element type): everything else — other tensors, graph, metadata — stays as it was (in a PyTorch
    /// checkpoint, the zip's CRC-32 of each changed storage is updated too). Atomic;
    /// an existing regular file at <paramref name="path"/> is replaced only when <paramref name="replace"/> is set (its permissions are kept).
    /// </summary>
    /// <exception cref="NotSupportedException">The model spans several files (<see cref="Parts"/>).</exception>
    public void WriteWithReplaced(string path, TensorEntry entry, ReadOnlySpan<float> values, bool replace = false) =>
        WriteWithReplaced(path, [(entry, values.ToArray())], replace);

    /// <summary>As <see cref="WriteWithReplaced(string, TensorEntry, ReadOnlySpan{float}, bool)"/> for several tensors at once.</summary>
    /// <exception cref="NotSupportedException">The model spans several files (<see cref="Parts"/>).</exception>
    public void WriteWithReplaced(string path, IReadOnlyList<(TensorEntry Entry, float[] Values)> replacements, bool replace = false)
    {
        ArgumentNullException.ThrowIfNull(replacements);
        RefuseSeveralFiles(path);
        var patches = new List<(long Offset, byte[] Bytes)>();
        foreach (var (entry, values) in replacements)
        {
            ArgumentNullException.ThrowIfNull(entry);
            ArgumentNullException.ThrowIfNull(values);
            if (!entry.Strides.IsDefault)
            {
                throw new ArgumentException($"Tensor '{entry.Name}' is a strided view of its storage (e.g. a transpose); it cannot be replaced in place. Convert the model to safetensors first.", nameof(replacements));
            }

            if (!entry.DType.IsReal() || !entry.Contiguous || values.Length != entry.ElementCount)
            {
                throw new ArgumentException($"Tensor '{entry.Name}' ({entry.DTypeName}, {entry.ElementCount} elements) cannot take {values.Length} float32 values.", nameof(replacements));
            }

            var bytes = new byte[entry.DataLength];
            TensorDTypes.FromSingle(entry.DType, values, bytes);
            patches.Add((entry.DataOffset, bytes));
        }

        if (Format == ModelFormat.PyTorchCheckpoint)
        {
            // A zip reader checks each member's CRC-32 (in its local header and the central directory).
            using var input = parts.Open(0);
            patches.AddRange(PyTorchCheckpoint.CrcPatches(new FileCursor(input, Source), patches));
        }

        AtomicFile.Write(path, output =>
        {
            using (var input = parts.Open(0))
            {
                input.CopyTo(output);
            }

            foreach (var (offset, bytes) in patches)
            {
                output.Seek(offset, SeekOrigin.Begin);
                output.Write(bytes);
            }
        }, ownerOnly: false, replace);
    }

    /// <summary>
    /// Writes this model again, in its format, with some real tensors given new values and new shapes (kept in
    /// their element type; every other tensor's name, shape, type and bytes, and the order, stay). For attacks
    /// that change a layer's width. TorchSharp .dat and safetensors only (a safetensors file's
    /// <c>__metadata__</c> is not kept): an ONNX graph would need its nodes changed too, which this does not do.
    /// Atomic; an existing regular file at <paramref name="path"/> is replaced only when <paramref name="replace"/> is set.
    /// </summary>
    /// <exception cref="NotSupportedException">The file is ONNX, or the model spans several files (<see cref="Parts"/>).</exception>
    public void WriteWithResized(string path, IReadOnlyList<(TensorEntry Entry, ImmutableArray<long> Shape, float[] Values)> replacements, bool replace = false)
    {
        ArgumentNullException.ThrowIfNull(replacements);
        RefuseSeveralFiles(path);
        if (Format == ModelFormat.Onnx)
        {
            throw new NotSupportedException($"'{Source}' is ONNX: changing a tensor's shape would need the graph's nodes changed too. Convert it to .safetensors or .dat first ('watermark convert').");
        }

        var byName = new Dictionary<string, (ImmutableArray<long> Shape, float[] Values)>(StringComparer.Ordinal);
        foreach (var (entry, shape, values) in replacements)
        {
            ArgumentNullException.ThrowIfNull(entry);
            ArgumentNullException.ThrowIfNull(values);
            long count = 1;
            foreach (var d in shape)
            {
                count = d < 0 ? -1 : count * d;
            }

            if (!entry.DType.IsReal() || count != values.Length || !Tensors.Contains(entry) || !byName.TryAdd(entry.Name, (shape, values)))
            {
                throw new ArgumentException($"Tensor '{entry.Name}' ({entry.DTypeName}) cannot take {values.Length} float32 values of shape {Capacity.ShapeText(shape)}, or is not this file's or is given twice.", nameof(replacements));
            }
        }

        var tensors = Tensors.Select(t =>
        {
            if (!byName.TryGetValue(t.Name, out var replacement))
            {
                return new StoredTensor(t.Name, t.Shape, t.DType, ReadBytes(t));
            }

            var bytes = new byte[replacement.Values.Length * t.DType.Size()];
            TensorDTypes.FromSingle(t.DType, replacement.Values, bytes);
            return new StoredTensor(t.Name, replacement.Shape, t.DType, bytes);
        }).ToList();
        Write(path, Format, tensors, replace);
    }

    // A changed copy of a multi-file model would be a new set of files (an index and shards, a model and its data):
    // writing only the opened file would leave it pointing at the originals.
    private void RefuseSeveralFiles(string path)
    {
        if (Parts.Length > 1)
        {
            var what = Format == ModelFormat.Safetensors ? $"a sharded safetensors model (an index and {Parts.Length - 1} shard files)" : $"an ONNX model with its values in {Parts.Length - 1} external data file(s)";
            throw new NotSupportedException($"'{Source}' is {what}; a changed copy is written as one file only. Convert it to one file first (watermark convert --model {Source} --out model.safetensors), then write '{path}' from that.");
        }
    }

    /// <summary>
    /// Writes tensors as a new model file of the given format, atomically; an existing regular file at
    /// <paramref name="path"/> is replaced only when <paramref name="replace"/> is set (its permissions are kept).
    /// </summary>
    public static void Write(string path, ModelFormat format, IReadOnlyList<StoredTensor> tensors, bool replace = false)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (format == ModelFormat.PyTorchCheckpoint)
        {
            throw new ArgumentException("PyTorch checkpoints are read, not written (writing one means writing a pickle); write .safetensors, which torch loads with safetensors.torch.load_file.", nameof(format));
        }

        var duplicate = tensors.GroupBy(t => t.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException($"Tensor '{duplicate.Key}' appears twice.", nameof(tensors));
        }

        foreach (var tensor in tensors)
        {
            long count = 1;
            foreach (var d in tensor.Shape)
            {
                count *= d;
            }

            if (tensor.DType == TensorDType.Unsupported || tensor.Data.Length != count * tensor.DType.Size())
            {
                throw new ArgumentException($"Tensor '{tensor.Name}' ({tensor.DType.DisplayName()}, shape {Capacity.ShapeText(tensor.Shape)}) has {tensor.Data.Length} bytes of values; it cannot be written.", nameof(tensors));
            }
        }

        AtomicFile.Write(path, stream =>
        {
            switch (format)
            {
                case ModelFormat.TorchSharpDat:
                    TorchSharpDat.Write(stream, tensors);
                    break;
                case ModelFormat.Safetensors:
                    Safetensors.Write(stream, tensors);
                    break;
                default:
                    Onnx.Write(stream, tensors);
                    break;
            }
        }, ownerOnly: false, replace);
    }

    [GeneratedRegex(@"-\d{5}-of-\d{5}\.safetensors$", RegexOptions.IgnoreCase)]
    private static partial Regex ShardName();
}
