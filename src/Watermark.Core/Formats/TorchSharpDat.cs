using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Text;

namespace Watermark.Formats;

/// <summary>
/// TorchSharp's own format (Module.save / Tensor.Save): a LEB128 entry count, then per entry the
/// name as a .NET BinaryWriter string (7-bit length prefix, UTF-8), the torch ScalarType code
/// (LEB128), the rank and each dimension (LEB128), and the raw little-endian values. No magic number.
/// </summary>
internal static class TorchSharpDat
{
    public static List<TensorEntry> ReadIndex(FileCursor cursor)
    {
        var count = cursor.ReadVarint("the tensor count", int.MaxValue);
        // Each entry takes at least 4 bytes (name length, one name byte, dtype, rank): a count beyond that is corrupt.
        if (count > cursor.Remaining / 4 + 1)
        {
            throw cursor.Error($"declares {count} tensors but has only {cursor.Remaining} bytes left; this is not a TorchSharp .dat file or it is corrupt.");
        }

        var entries = new List<TensorEntry>();
        for (var i = 0; i < count; i++)
        {
            var nameLength = cursor.ReadVarint($"the name length of tensor #{i}", Shapes.MaxNameBytes);
            var name = Shapes.DecodeName(cursor.ReadBytes(nameLength, $"the name of tensor #{i}"), cursor, $"the name of tensor #{i}");
            var printable = Shapes.Printable(name);
            var code = cursor.ReadVarint($"the element type of '{printable}'");
            var dtype = FromCode(code);
            if (dtype == TensorDType.Unsupported)
            {
                throw cursor.Error($"tensor '{printable}' has the element type code {code}, which this reader does not know (known: uint8, int8, int16, int32, int64, float16, float32, float64, complex, bool, bfloat16); the file is corrupt or from a newer TorchSharp.");
            }

            var rank = cursor.ReadVarint($"the rank of '{printable}'", Shapes.MaxRank);
            var shape = ImmutableArray.CreateBuilder<long>((int)rank);
            for (var d = 0; d < rank; d++)
            {
                shape.Add(cursor.ReadVarint($"dimension {d} of '{printable}'", long.MaxValue));
            }

            var elements = Shapes.ElementCount(shape, cursor, $"tensor '{printable}'");
            var bytes = Shapes.ByteLength(elements, dtype);
            var offset = cursor.Position;
            cursor.Skip(bytes, $"the values of '{printable}' ({bytes} bytes expected)");
            entries.Add(new TensorEntry(name, shape.MoveToImmutable(), dtype, dtype.DisplayName(), elements, offset, bytes, contiguous: true));
        }

        // TorchSharp opens the file with File.OpenWrite, which does not truncate: bytes after the last entry are stale, not an error.
        // Names must be unique: Module.load takes the last of a repeated name, a first-match reader the first (ModelFile checks).
        return entries;
    }

    public static void Write(Stream stream, IReadOnlyList<StoredTensor> tensors)
    {
        using var writer = new BinaryWriter(stream, new UTF8Encoding(false), leaveOpen: true);
        WriteLeb128(writer, tensors.Count);
        foreach (var tensor in tensors)
        {
            writer.Write(tensor.Name);
            WriteLeb128(writer, ToCode(tensor.DType));
            WriteLeb128(writer, tensor.Shape.Length);
            foreach (var d in tensor.Shape)
            {
                WriteLeb128(writer, d);
            }

            writer.Write(tensor.Data.Span);
        }
    }

    private static void WriteLeb128(BinaryWriter writer, long value)
    {
        var v = (ulong)value;
        while (v >= 0x80)
        {
            writer.Write((byte)(v | 0x80));
            v >>= 7;
        }

        writer.Write((byte)v);
    }

    // torch's ScalarType numbering (c10/core/ScalarType.h), as TorchSharp writes it.
    private static TensorDType FromCode(ulong code) => code switch
    {
        0 => TensorDType.UInt8,
        1 => TensorDType.Int8,
        2 => TensorDType.Int16,
        3 => TensorDType.Int32,
        4 => TensorDType.Int64,
        5 => TensorDType.Float16,
        6 => TensorDType.Float32,
        7 => TensorDType.Float64,
        9 => TensorDType.Complex64,
        10 => TensorDType.Complex128,
        11 => TensorDType.Bool,
        15 => TensorDType.BFloat16,
        _ => TensorDType.Unsupported,
    };

    private static long ToCode(TensorDType type) => type switch
    {
        TensorDType.UInt8 => 0,
        TensorDType.Int8 => 1,
        TensorDType.Int16 => 2,
        TensorDType.Int32 => 3,
        TensorDType.Int64 => 4,
        TensorDType.Float16 => 5,
        TensorDType.Float32 => 6,
        TensorDType.Float64 => 7,
        TensorDType.Complex64 => 9,
        TensorDType.Complex128 => 10,
        TensorDType.Bool => 11,
        TensorDType.BFloat16 => 15,
        _ => throw new System.ArgumentException($"The element type {type} cannot be written to a TorchSharp .dat file.", nameof(type)),
    };
}
