using System;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Watermark.Formats;

/// <summary>Element types found in model files. Values are little-endian in every format read here.</summary>
[SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "The members are the element types of the files, named as torch names them.")]
public enum TensorDType
{
    /// <summary>A type this library lists but does not read (e.g. safetensors' F8_E4M3).</summary>
    Unsupported,

    /// <summary>8-bit unsigned integer.</summary>
    UInt8,

    /// <summary>8-bit signed integer.</summary>
    Int8,

    /// <summary>16-bit signed integer.</summary>
    Int16,

    /// <summary>32-bit signed integer.</summary>
    Int32,

    /// <summary>64-bit signed integer.</summary>
    Int64,

    /// <summary>IEEE half precision.</summary>
    Float16,

    /// <summary>IEEE single precision.</summary>
    Float32,

    /// <summary>IEEE double precision.</summary>
    Float64,

    /// <summary>bfloat16: the upper half of a float32.</summary>
    BFloat16,

    /// <summary>One byte per boolean.</summary>
    Bool,

    /// <summary>Two float32s.</summary>
    Complex64,

    /// <summary>Two float64s.</summary>
    Complex128,
}

/// <summary>Sizes and names of <see cref="TensorDType"/>.</summary>
public static class TensorDTypes
{
    /// <summary>Bytes per element; 0 for <see cref="TensorDType.Unsupported"/>.</summary>
    public static int Size(this TensorDType type) => type switch
    {
        TensorDType.UInt8 or TensorDType.Int8 or TensorDType.Bool => 1,
        TensorDType.Int16 or TensorDType.Float16 or TensorDType.BFloat16 => 2,
        TensorDType.Int32 or TensorDType.Float32 => 4,
        TensorDType.Int64 or TensorDType.Float64 or TensorDType.Complex64 => 8,
        TensorDType.Complex128 => 16,
        _ => 0,
    };

    /// <summary>Whether weights of this type can be read as float32 for extraction and attacks.</summary>
    public static bool IsReal(this TensorDType type) =>
        type is TensorDType.Float32 or TensorDType.Float16 or TensorDType.BFloat16 or TensorDType.Float64;

    /// <summary>The lower-case name printed by <c>watermark inspect</c> (torch's names).</summary>
    public static string DisplayName(this TensorDType type) => type switch
    {
        TensorDType.UInt8 => "uint8",
        TensorDType.Int8 => "int8",
        TensorDType.Int16 => "int16",
        TensorDType.Int32 => "int32",
        TensorDType.Int64 => "int64",
        TensorDType.Float16 => "float16",
        TensorDType.Float32 => "float32",
        TensorDType.Float64 => "float64",
        TensorDType.BFloat16 => "bfloat16",
        TensorDType.Bool => "bool",
        TensorDType.Complex64 => "complex64",
        TensorDType.Complex128 => "complex128",
        _ => "unsupported",
    };

    /// <summary>Converts little-endian values of a real type to float32.</summary>
    public static void ToSingle(TensorDType type, ReadOnlySpan<byte> source, Span<float> destination)
    {
        var size = type.Size();
        if (!type.IsReal() || source.Length != destination.Length * size)
        {
            throw new ArgumentException($"Cannot read {source.Length} bytes of {type.DisplayName()} as {destination.Length} float32 values.", nameof(source));
        }

        if (type == TensorDType.Float32 && BitConverter.IsLittleEndian)
        {
            // Stored as they lie in memory here: one block copy.
            MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);
            return;
        }

        for (var i = 0; i < destination.Length; i++)
        {
            var at = source.Slice(i * size, size);
            destination[i] = type switch
            {
                TensorDType.Float32 => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadInt32LittleEndian(at)),
                TensorDType.Float64 => (float)BitConverter.Int64BitsToDouble(BinaryPrimitives.ReadInt64LittleEndian(at)),
                TensorDType.Float16 => (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(at)),
                _ => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(at) << 16),
            };
        }
    }

    /// <summary>Converts float32 values back to little-endian values of a real type (bfloat16 rounds to nearest even).</summary>
    public static void FromSingle(TensorDType type, ReadOnlySpan<float> source, Span<byte> destination)
    {
        var size = type.Size();
        if (!type.IsReal() || destination.Length != source.Length * size)
        {
            throw new ArgumentException($"Cannot write {source.Length} float32 values as {destination.Length} bytes of {type.DisplayName()}.", nameof(destination));
        }

        for (var i = 0; i < source.Length; i++)
        {
            var at = destination.Slice(i * size, size);
            switch (type)
            {
                case TensorDType.Float32:
                    BinaryPrimitives.WriteSingleLittleEndian(at, source[i]);
                    break;
                case TensorDType.Float64:
                    BinaryPrimitives.WriteDoubleLittleEndian(at, source[i]);
                    break;
                case TensorDType.Float16:
                    BinaryPrimitives.WriteHalfLittleEndian(at, (Half)source[i]);
                    break;
                default:
                    BinaryPrimitives.WriteUInt16LittleEndian(at, ToBFloat16(source[i]));
                    break;
            }
        }
    }

    private static ushort ToBFloat16(float value)
    {
        var bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x40);
        }

        var rounding = 0x7FFFu + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }
}
