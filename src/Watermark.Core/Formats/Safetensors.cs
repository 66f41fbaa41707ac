using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Text.Json;

namespace Watermark.Formats;

/// <summary>
/// safetensors: an 8-byte little-endian header length N, N bytes of JSON mapping each tensor name to
/// {dtype, shape, data_offsets [begin, end)} relative to the data that follows, and an optional
/// <c>__metadata__</c> object of strings.
/// </summary>
internal static class Safetensors
{
    /// <summary>The format's own limit on the header (100 MB).</summary>
    private const long MaxHeaderBytes = 100_000_000;
    private const int MaxDepth = 4;

    public static bool LooksLike(ReadOnlySpan<byte> start, long fileLength)
    {
        if (start.Length < 9)
        {
            return false;
        }

        var n = BinaryPrimitives.ReadUInt64LittleEndian(start);
        return n >= 2 && n <= (ulong)(fileLength - 8) && start[8] == (byte)'{';
    }

    public static List<TensorEntry> ReadIndex(FileCursor cursor)
    {
        Span<byte> prefix = stackalloc byte[8];
        cursor.ReadExactly(prefix, "the 8-byte header length");
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength < 2 || headerLength > MaxHeaderBytes || headerLength > (ulong)cursor.Remaining)
        {
            throw cursor.Error($"the header length is {headerLength} bytes but the file has {cursor.Remaining} bytes after it (and safetensors allows at most {MaxHeaderBytes}); this is not a safetensors file or it is truncated.");
        }

        var header = cursor.ReadBytes((long)headerLength, "the JSON header");
        var dataStart = cursor.Position;
        var dataLength = cursor.Length - dataStart;
        // System.Text.Json defers checks of strings until they are read (then throws InvalidOperationException) and lets a repeated key win silently.
        if (StrictJson.Problem(header, MaxDepth) is { } problem)
        {
            throw cursor.Error($"the safetensors header {(problem.StartsWith("is ", StringComparison.Ordinal) ? problem : "is unusable: " + problem)}; the file is corrupt or crafted.");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = MaxDepth });
        }
        catch (JsonException)
        {
            throw cursor.Error("the safetensors header is not valid JSON; the file is corrupt or truncated.");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw cursor.Error("the safetensors header is not a JSON object.");
            }

            var entries = new List<TensorEntry>();
            foreach (var property in root.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    CheckMetadata(cursor, property.Value);
                    continue;
                }

                var name = property.Name;
                var printable = Shapes.Printable(name);
                // A repeated name is refused by StrictJson (a repeated key) before this.
                if (name.Length == 0)
                {
                    throw cursor.Error("the header names a tensor with an empty name.");
                }

                entries.Add(ReadEntry(cursor, property.Value, name, printable, dataStart, dataLength));
            }

            CheckCoverage(cursor, entries, dataStart, dataLength);
            return entries;
        }
    }

    // The format's rule: __metadata__ maps strings to strings.
    private static void CheckMetadata(FileCursor cursor, JsonElement metadata)
    {
        if (metadata.ValueKind != JsonValueKind.Object)
        {
            throw cursor.Error("the header's __metadata__ is not an object of strings; the file is corrupt.");
        }

        foreach (var item in metadata.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
            {
                throw cursor.Error($"the header's __metadata__ entry '{Shapes.Printable(item.Name)}' is not a string; the file is corrupt.");
            }
        }
    }

    // The format's rule: the tensors' data_offsets tile the data exactly — no overlap (two tensors sharing
    // bytes), no hole and nothing after the last (room for a second, hidden payload).
    private static void CheckCoverage(FileCursor cursor, List<TensorEntry> entries, long dataStart, long dataLength)
    {
        var spans = new List<(long Begin, long End, string Name)>(entries.Count);
        foreach (var entry in entries)
        {
            spans.Add((entry.DataOffset - dataStart, entry.DataOffset - dataStart + entry.DataLength, entry.Name));
        }

        spans.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long covered = 0;
        foreach (var (begin, end, name) in spans)
        {
            if (begin < covered)
            {
                throw cursor.Error($"tensor '{Shapes.Printable(name)}' has data_offsets that overlap another tensor's bytes; the file is corrupt or crafted.");
            }

            if (begin > covered)
            {
                throw cursor.Error($"the data has {begin - covered} bytes at offset {covered} that no tensor indexes (before '{Shapes.Printable(name)}'); the format forbids holes, so the file is corrupt or crafted.");
            }

            covered = end;
        }

        if (covered != dataLength)
        {
            throw cursor.Error($"the data has {dataLength - covered} bytes after the last tensor that no tensor indexes; the format forbids them, so the file is corrupt, crafted or has bytes appended.");
        }
    }

    private static TensorEntry ReadEntry(FileCursor cursor, JsonElement value, string name, string printable, long dataStart, long dataLength)
    {
        if (value.ValueKind != JsonValueKind.Object
            || !value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String
            || !value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array
            || !value.TryGetProperty("data_offsets", out var offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array)
        {
            throw cursor.Error($"tensor '{printable}' in the header lacks a string \"dtype\", an array \"shape\" or an array \"data_offsets\".");
        }

        var dtypeName = dtypeElement.GetString()!;
        var dtype = FromName(dtypeName);
        if (shapeElement.GetArrayLength() > Shapes.MaxRank)
        {
            throw cursor.Error($"tensor '{printable}' has {shapeElement.GetArrayLength()} dimensions; at most {Shapes.MaxRank} are possible.");
        }

        var shape = ImmutableArray.CreateBuilder<long>(shapeElement.GetArrayLength());
        foreach (var d in shapeElement.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var dim) || dim < 0)
            {
                throw cursor.Error($"tensor '{printable}' has a shape entry that is not a non-negative integer.");
            }

            shape.Add(dim);
        }

        if (offsetsElement.GetArrayLength() != 2
            || !offsetsElement[0].TryGetInt64Checked(out var begin) || !offsetsElement[1].TryGetInt64Checked(out var end)
            || begin < 0 || end < begin || end > dataLength)
        {
            throw cursor.Error($"tensor '{printable}' has data_offsets outside the {dataLength} bytes of data; the file is truncated or corrupt.");
        }

        var elements = Shapes.ElementCount(shape, cursor, $"tensor '{printable}'");
        if (dtype != TensorDType.Unsupported && end - begin != Shapes.ByteLength(elements, dtype))
        {
            throw cursor.Error($"tensor '{printable}' has the shape {Capacity.ShapeText(shape)} of {dtype.DisplayName()} ({Shapes.ByteLength(elements, dtype)} bytes) but its data_offsets span {end - begin} bytes.");
        }

        var shown = dtype == TensorDType.Unsupported ? Shapes.Printable(dtypeName) : dtype.DisplayName();
        return new TensorEntry(name, shape.MoveToImmutable(), dtype, shown, elements, dataStart + begin, end - begin, contiguous: true);
    }

    private static bool TryGetInt64Checked(this JsonElement element, out long value)
    {
        value = 0;
        return element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out value);
    }

    public static void Write(Stream stream, IReadOnlyList<StoredTensor> tensors)
    {
        var json = new MemoryStream();
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartObject();
            long offset = 0;
            foreach (var tensor in tensors)
            {
                writer.WriteStartObject(tensor.Name);
                writer.WriteString("dtype", ToName(tensor.DType));
                writer.WriteStartArray("shape");
                foreach (var d in tensor.Shape)
                {
                    writer.WriteNumberValue(d);
                }

                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(offset);
                offset += tensor.Data.Length;
                writer.WriteNumberValue(offset);
                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }

        // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
        while (json.Length % 8 != 0)
        {
            json.WriteByte((byte)' ');
        }

        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)json.Length);
        stream.Write(prefix);
        json.Position = 0;
        json.CopyTo(stream);
        foreach (var tensor in tensors)
        {
            stream.Write(tensor.Data.Span);
        }
    }

    private static TensorDType FromName(string name) => name switch
    {
        "BOOL" => TensorDType.Bool,
        "U8" => TensorDType.UInt8,
        "I8" => TensorDType.Int8,
        "I16" => TensorDType.Int16,
        "I32" => TensorDType.Int32,
        "I64" => TensorDType.Int64,
        "F16" => TensorDType.Float16,
        "BF16" => TensorDType.BFloat16,
        "F32" => TensorDType.Float32,
        "F64" => TensorDType.Float64,
        "C64" => TensorDType.Complex64,
        _ => TensorDType.Unsupported,
    };

    private static string ToName(TensorDType type) => type switch
    {
        TensorDType.Bool => "BOOL",
        TensorDType.UInt8 => "U8",
        TensorDType.Int8 => "I8",
        TensorDType.Int16 => "I16",
        TensorDType.Int32 => "I32",
        TensorDType.Int64 => "I64",
        TensorDType.Float16 => "F16",
        TensorDType.BFloat16 => "BF16",
        TensorDType.Float32 => "F32",
        TensorDType.Float64 => "F64",
        TensorDType.Complex64 => "C64",
        _ => throw new ArgumentException($"The element type {type} cannot be written to safetensors.", nameof(type)),
    };
}
