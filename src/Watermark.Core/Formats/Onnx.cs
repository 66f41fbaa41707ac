using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Text;

namespace Watermark.Formats;

/// <summary>
/// ONNX weights: ModelProto.graph (field 7) → GraphProto.initializer (field 5) → TensorProto
/// {dims 1, data_type 2, float_data 4, int32_data 5, int64_data 7, name 8, raw_data 9, double_data 10,
/// external_data 13, data_location 14}. Only these fields are read; everything else, and every value, is
/// skipped by its length, so a large model costs one pass over its field headers.
/// </summary>
/// <remarks>
/// External data (data_location EXTERNAL): the values lie in the file that external_data's <c>location</c>
/// names, relative to the model's folder and confined to it (<see cref="ModelParts"/>), from <c>offset</c>
/// (default 0) for <c>length</c> bytes (default: to the end of the file, as onnx reads it). Several tensors
/// may share one file. <c>checksum</c>, which no onnx tool writes or checks, is not checked either.
/// </remarks>
internal static class Onnx
{
    private const int WireVarint = 0;
    private const int WireFixed64 = 1;
    private const int WireLength = 2;
    private const int WireFixed32 = 5;

    public static List<TensorEntry> ReadIndex(FileCursor cursor, ModelParts parts)
    {
        var entries = new List<TensorEntry>();
        var graphs = 0;
        ReadFields(cursor, cursor.Length, "the model", (field, wire) =>
        {
            if (field == 7 && wire == WireLength)
            {
                var end = LengthEnd(cursor, "the graph");
                graphs++;
                ReadGraph(cursor, end, entries, parts);
                return true;
            }

            return false;
        });

        if (graphs == 0)
        {
            throw cursor.Error("holds no ONNX graph (ModelProto field 7); this is not an ONNX model, or it is empty.");
        }

        // Protobuf merges a repeated singular field, so ONNX runtimes would see one graph made of both; a
        // genuine exporter writes one. Refused, as is any initializer name that appears twice (ModelFile).
        if (graphs > 1)
        {
            throw cursor.Error($"holds {graphs} graph fields (ModelProto field 7) where an exporter writes one; readers would merge them, so the file is refused as ambiguous.");
        }

        return entries;
    }

    private static void ReadGraph(FileCursor cursor, long end, List<TensorEntry> entries, ModelParts parts) =>
        ReadFields(cursor, end, "the graph", (field, wire) =>
        {
            if (field == 5 && wire == WireLength)
            {
                var tensorEnd = LengthEnd(cursor, "an initializer");
                entries.Add(ReadTensor(cursor, tensorEnd, entries.Count, parts));
                return true;
            }

            return false;
        });

    private static TensorEntry ReadTensor(FileCursor cursor, long end, int index, ModelParts parts)
    {
        var dims = ImmutableArray.CreateBuilder<long>();
        long dataType = 0;
        string? name = null;
        ulong location = 0;
        var externalData = new List<(string Key, string Value)>();
        (int Field, long Offset, long Length)? data = null;
        var what = $"initializer #{index}";
        ReadFields(cursor, end, what, (field, wire) =>
        {
            switch (field)
            {
                case 1 when wire == WireVarint:
                    AddDim(cursor, dims, (long)cursor.ReadVarint($"a dimension of {what}"), what);
                    return true;
                case 1 when wire == WireLength:
                    var packedEnd = LengthEnd(cursor, $"the dimensions of {what}");
                    while (cursor.Position < packedEnd)
                    {
                        AddDim(cursor, dims, (long)cursor.ReadVarint($"a dimension of {what}"), what);
                    }

                    if (cursor.Position != packedEnd)
                    {
                        throw cursor.Error($"the packed dimensions of {what} overrun their length; the file is corrupt.");
                    }

                    return true;
                case 2 when wire == WireVarint:
                    dataType = (long)cursor.ReadVarint($"the data type of {what}");
                    return true;
                case 8 when wire == WireLength:
                    var nameEnd = LengthEnd(cursor, $"the name of {what}");
                    var length = nameEnd - cursor.Position;
                    if (length > Shapes.MaxNameBytes)
                    {
                        throw cursor.Error($"the name of {what} is {length} bytes long; the file is corrupt.");
                    }

                    name = Shapes.DecodeName(cursor.ReadBytes(length, $"the name of {what}"), cursor, $"the name of {what}");
                    return true;
                case 4 or 5 or 7 or 9 or 10 when wire == WireLength:
                    var valuesEnd = LengthEnd(cursor, $"the values of {what}");
                    var valuesLength = valuesEnd - cursor.Position;
                    // An empty field carries nothing (proto2 writers may emit one); two non-empty ones are a contradiction.
                    if (data is { Length: > 0 } && valuesLength > 0)
                    {
                        throw cursor.Error($"{what} stores its values in two fields ({data.Value.Field} and {field}); the file is corrupt.");
                    }

                    if (data is null || valuesLength > 0)
                    {
                        data = (field, cursor.Position, valuesLength);
                    }

                    cursor.Skip(valuesLength, $"the values of {what}");
                    return true;
                case 4 or 5 or 7 or 10:
                    throw cursor.Error($"{what} stores its values unpacked (one field per value); re-export the model so that values are packed or in raw_data.");
                case 13 when wire == WireLength:
                    externalData.Add(ReadExternalDataEntry(cursor, LengthEnd(cursor, $"an external_data entry of {what}"), what));
                    return true;
                case 14 when wire == WireVarint:
                    location = cursor.ReadVarint($"the data location of {what}");
                    return true;
                default:
                    return false;
            }
        });

        var label = name is null ? what : $"initializer '{Shapes.Printable(name)}'";
        if (name is null)
        {
            throw cursor.Error($"{what} has no name (TensorProto field 8); the file is corrupt.");
        }

        if (location > 1)
        {
            throw cursor.Error($"{label} has the data_location {location} (TensorProto field 14), which ONNX does not define (0: DEFAULT, 1: EXTERNAL); the file is corrupt.");
        }

        var shape = dims.ToImmutable();
        var elements = Shapes.ElementCount(shape, cursor, label);
        var dtype = FromDataType(dataType);
        var dtypeName = dtype == TensorDType.Unsupported ? $"onnx-type-{dataType}" : dtype.DisplayName();
        if (location == 1)
        {
            if (data is { Length: > 0 } inline)
            {
                throw cursor.Error($"{label} is marked as external data (data_location EXTERNAL) yet stores values in field {inline.Field} too; readers would disagree on which to take, so the file is refused.");
            }

            return ReadExternal(cursor, parts, ExternalDataKeys(cursor, externalData, label), label, name, shape, dtype, dtypeName, elements);
        }
        if (data is not { } stored)
        {
            if (elements != 0)
            {
                throw cursor.Error($"{label} has {elements} elements but no values; the file is corrupt.");
            }

            return new TensorEntry(name, shape, dtype, dtypeName, 0, end, 0, contiguous: true);
        }

        // raw_data, float_data (packed fixed32) and double_data (packed fixed64) are plain little-endian elements.
        var contiguous = stored.Field == 9
            || (stored.Field == 4 && dtype == TensorDType.Float32)
            || (stored.Field == 10 && dtype == TensorDType.Float64);
        if (contiguous && dtype != TensorDType.Unsupported && stored.Length != Shapes.ByteLength(elements, dtype))
        {
            throw cursor.Error($"{label} has the shape {Capacity.ShapeText(shape)} of {dtype.DisplayName()} ({Shapes.ByteLength(elements, dtype)} bytes) but stores {stored.Length} bytes.");
        }

        return new TensorEntry(name, shape, dtype, dtypeName, elements, stored.Offset, stored.Length, contiguous);
    }

    // StringStringEntryProto {key 1, value 2}.
    private static (string Key, string Value) ReadExternalDataEntry(FileCursor cursor, long end, string what)
    {
        string? key = null;
        var value = string.Empty;
        ReadFields(cursor, end, $"an external_data entry of {what}", (field, wire) =>
        {
            if (field is 1 or 2 && wire == WireLength)
            {
                var textEnd = LengthEnd(cursor, $"an external_data entry of {what}");
                var length = textEnd - cursor.Position;
                if (length > Shapes.MaxNameBytes)
                {
                    throw cursor.Error($"an external_data entry of {what} is {length} bytes long; the file is corrupt.");
                }

                var bytes = cursor.ReadBytes(length, $"an external_data entry of {what}");
                var text = bytes.Length == 0 ? string.Empty : Shapes.DecodeName(bytes, cursor, $"an external_data entry of {what}");
                if (field == 1)
                {
                    key = text;
                }
                else
                {
                    value = text;
                }

                return true;
            }

            return false;
        });

        return key is null ? throw cursor.Error($"{what} has an external_data entry without a key; the file is corrupt.") : (key, value);
    }

    // A key given twice would let two readers take different values.
    private static Dictionary<string, string> ExternalDataKeys(FileCursor cursor, List<(string Key, string Value)> entries, string label)
    {
        var keys = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in entries)
        {
            if (!keys.TryAdd(key, value))
            {
                throw cursor.Error($"{label} has the external_data key '{Shapes.Printable(key)}' twice; readers could take either value, so the file is refused.");
            }
        }

        return keys;
    }

    private static TensorEntry ReadExternal(FileCursor cursor, ModelParts parts, Dictionary<string, string> externalData, string label, string name, ImmutableArray<long> shape, TensorDType dtype, string dtypeName, long elements)
    {
        if (!externalData.TryGetValue("location", out var location))
        {
            throw cursor.Error($"{label} is marked as external data (data_location EXTERNAL) but its external_data has no 'location'; the file is corrupt. Save the model again with onnx.save_model(..., save_as_external_data=True).");
        }

        var part = parts.Add(location, $"the external_data 'location' of {label}", "external data file");
        var size = parts.Length(part);
        var offset = Number(cursor, externalData, "offset", label) ?? 0;
        var length = Number(cursor, externalData, "length", label) ?? Math.Max(0, size - offset);
        if (offset > size || length > size - offset)
        {
            throw cursor.Error($"the external_data of {label} (offset {offset}, length {length}) runs past the end of '{Shapes.Printable(location)}', which holds {size} bytes; the data file is truncated or belongs to another save. Copy the model and its data file from the same save.");
        }

        if (dtype != TensorDType.Unsupported && length != Shapes.ByteLength(elements, dtype))
        {
            throw cursor.Error($"{label} has the shape {Capacity.ShapeText(shape)} of {dtype.DisplayName()} ({Shapes.ByteLength(elements, dtype)} bytes) but its external_data spans {length} bytes of '{Shapes.Printable(location)}'; the file is corrupt.");
        }

        return new TensorEntry(name, shape, dtype, dtypeName, elements, offset, length, contiguous: true, part: part);
    }

    // onnx writes offset and length as decimal text.
    private static long? Number(FileCursor cursor, Dictionary<string, string> externalData, string key, string label)
    {
        if (!externalData.TryGetValue(key, out var text))
        {
            return null;
        }

        if (text.Length == 0 || text.Length > 18 || !text.All(char.IsAsciiDigit))
        {
            throw cursor.Error($"the external_data '{key}' of {label} is '{Shapes.Printable(text)}', not a whole number of bytes; the file is corrupt.");
        }

        return long.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
    }

    private static void AddDim(FileCursor cursor, ImmutableArray<long>.Builder dims, long value, string what)
    {
        if (dims.Count >= Shapes.MaxRank)
        {
            throw cursor.Error($"{what} has more than {Shapes.MaxRank} dimensions; the file is corrupt.");
        }

        if (value < 0)
        {
            throw cursor.Error($"{what} has a negative dimension; the file is corrupt.");
        }

        dims.Add(value);
    }

    private static long LengthEnd(FileCursor cursor, string what)
    {
        var length = cursor.ReadVarint($"the length of {what}", long.MaxValue);
        cursor.Require(length, what);
        return cursor.Position + length;
    }

    /// <summary>Walks the fields of a message up to <paramref name="end"/>; <paramref name="read"/> consumes the ones it knows.</summary>
    private static void ReadFields(FileCursor cursor, long end, string what, Func<int, int, bool> read)
    {
        while (cursor.Position < end)
        {
            var tag = cursor.ReadVarint($"a field tag of {what}");
            var field = tag >> 3;
            var wire = (int)(tag & 7);
            if (field == 0 || field > 536_870_911)
            {
                throw cursor.Error($"{what} has an invalid field number at byte {cursor.Position}; this is not an ONNX file or it is corrupt.");
            }

            if (!read((int)field, wire))
            {
                SkipField(cursor, wire, what);
            }

            if (cursor.Position > end)
            {
                throw cursor.Error($"a field of {what} runs past the end of its message; the file is corrupt.");
            }
        }
    }

    private static void SkipField(FileCursor cursor, int wire, string what)
    {
        switch (wire)
        {
            case WireVarint:
                cursor.ReadVarint($"a field of {what}");
                break;
            case WireFixed64:
                cursor.Skip(8, $"a field of {what}");
                break;
            case WireLength:
                cursor.Skip(cursor.ReadVarint($"a field length of {what}", long.MaxValue), $"a field of {what}");
                break;
            case WireFixed32:
                cursor.Skip(4, $"a field of {what}");
                break;
            default:
                throw cursor.Error($"{what} has a field of wire type {wire} at byte {cursor.Position}, which ONNX never uses; this is not an ONNX file or it is corrupt.");
        }
    }

    // onnx.proto TensorProto.DataType.
    private static TensorDType FromDataType(long code) => code switch
    {
        1 => TensorDType.Float32,
        2 => TensorDType.UInt8,
        3 => TensorDType.Int8,
        5 => TensorDType.Int16,
        6 => TensorDType.Int32,
        7 => TensorDType.Int64,
        9 => TensorDType.Bool,
        10 => TensorDType.Float16,
        11 => TensorDType.Float64,
        14 => TensorDType.Complex64,
        15 => TensorDType.Complex128,
        16 => TensorDType.BFloat16,
        _ => TensorDType.Unsupported,
    };

    private static long ToDataType(TensorDType type) => type switch
    {
        TensorDType.Float32 => 1,
        TensorDType.UInt8 => 2,
        TensorDType.Int8 => 3,
        TensorDType.Int16 => 5,
        TensorDType.Int32 => 6,
        TensorDType.Int64 => 7,
        TensorDType.Bool => 9,
        TensorDType.Float16 => 10,
        TensorDType.Float64 => 11,
        TensorDType.Complex64 => 14,
        TensorDType.Complex128 => 15,
        TensorDType.BFloat16 => 16,
        _ => throw new ArgumentException($"The element type {type} cannot be written to ONNX.", nameof(type)),
    };

    /// <summary>
    /// Writes a weights-only ONNX model: ir_version 8, opset 17, and a graph whose initializers are
    /// the tensors (raw_data). It holds no nodes; it carries weights for verification and exchange.
    /// </summary>
    public static void Write(Stream stream, IReadOnlyList<StoredTensor> tensors)
    {
        var output = new ProtoWriter(stream);
        output.Varint(1, 8);
        output.Bytes(2, Encoding.UTF8.GetBytes("watermark"));
        var opset = new ProtoWriter(new MemoryStream());
        opset.Bytes(1, []);
        opset.Varint(2, 17);
        output.Bytes(8, opset.ToArray());

        var graphName = Encoding.UTF8.GetBytes("weights");
        long graphLength = ProtoWriter.FieldLength(2, graphName.Length);
        var tensorLengths = new long[tensors.Count];
        for (var i = 0; i < tensors.Count; i++)
        {
            tensorLengths[i] = TensorLength(tensors[i]);
            graphLength += ProtoWriter.FieldLength(5, tensorLengths[i]);
        }

        output.Header(7, graphLength);
        output.Bytes(2, graphName);
        for (var i = 0; i < tensors.Count; i++)
        {
            var tensor = tensors[i];
            output.Header(5, tensorLengths[i]);
            foreach (var d in tensor.Shape)
            {
                output.Varint(1, (ulong)d);
            }

            output.Varint(2, (ulong)ToDataType(tensor.DType));
            output.Bytes(8, Encoding.UTF8.GetBytes(tensor.Name));
            output.Bytes(9, tensor.Data.Span);
        }
    }

    private static long TensorLength(StoredTensor tensor)
    {
        long length = 0;
        foreach (var d in tensor.Shape)
        {
            length += 1 + ProtoWriter.VarintLength((ulong)d);
        }

        length += 1 + ProtoWriter.VarintLength((ulong)ToDataType(tensor.DType));
        length += ProtoWriter.FieldLength(8, Encoding.UTF8.GetByteCount(tensor.Name));
        length += ProtoWriter.FieldLength(9, tensor.Data.Length);
        return length;
    }

    /// <summary>Protobuf wire encoding of the few field kinds the writer needs (field numbers below 16).</summary>
    private sealed class ProtoWriter(Stream stream)
    {
        public static int VarintLength(ulong value)
        {
            var length = 1;
            while (value >= 0x80)
            {
                value >>= 7;
                length++;
            }

            return length;
        }

        public static long FieldLength(int field, long payload) => VarintLength((ulong)(field << 3)) + VarintLength((ulong)payload) + payload;

        public void Varint(int field, ulong value)
        {
            RawVarint((ulong)(field << 3) | WireVarint);
            RawVarint(value);
        }

        public void Header(int field, long length)
        {
            RawVarint((ulong)(field << 3) | WireLength);
            RawVarint((ulong)length);
        }

        public void Bytes(int field, ReadOnlySpan<byte> value)
        {
            Header(field, value.Length);
            stream.Write(value);
        }

        public byte[] ToArray() => ((MemoryStream)stream).ToArray();

        private void RawVarint(ulong value)
        {
            while (value >= 0x80)
            {
                stream.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }

            stream.WriteByte((byte)value);
        }
    }
}
