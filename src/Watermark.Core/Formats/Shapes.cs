using System;
using System.Collections.Generic;
using System.Text;

namespace Watermark.Formats;

/// <summary>Checks shared by the readers: rank, element counts without overflow, names.</summary>
internal static class Shapes
{
    /// <summary>torch's own limit on the number of dimensions.</summary>
    public const int MaxRank = 64;

    /// <summary>Longest tensor name accepted (bytes of UTF-8); state_dict names are far shorter.</summary>
    public const int MaxNameBytes = 64 * 1024;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The product of the dimensions; throws when it overflows what a file can hold. <paramref name="what"/> names the tensor in errors.</summary>
    public static long ElementCount(IReadOnlyList<long> shape, FileCursor cursor, string what)
    {
        long count = 1;
        foreach (var d in shape)
        {
            if (d < 0)
            {
                throw cursor.Error($"{what} has a negative dimension {d}; the file is corrupt.");
            }

            if (d != 0 && count > long.MaxValue / 16 / d)
            {
                throw cursor.Error($"{what} has the shape {Capacity.ShapeText(shape)}, far more elements than any file holds; the file is corrupt.");
            }

            count *= d;
        }

        return count;
    }

    /// <summary>The byte length of <paramref name="count"/> elements of <paramref name="type"/> (count is already bounded).</summary>
    public static long ByteLength(long count, TensorDType type) => count * type.Size();

    public static string DecodeName(byte[] bytes, FileCursor cursor, string what)
    {
        try
        {
            var name = StrictUtf8.GetString(bytes);
            if (name.Length == 0)
            {
                throw cursor.Error($"{what} is empty; every tensor needs a name.");
            }

            return name;
        }
        catch (DecoderFallbackException)
        {
            throw cursor.Error($"{what} is not valid UTF-8; the file is corrupt.");
        }
    }

    /// <summary>Makes a name from a damaged file safe to print: short, no control characters.</summary>
    public static string Printable(string value)
    {
        // Most names are fine as they are (and this runs for every tensor of every file a scan reads).
        if (value.Length <= 60 && !value.AsSpan().ContainsAnyInRange('\0', '\x1f') && !value.AsSpan().ContainsAnyInRange('\x7f', '\x9f'))
        {
            return value;
        }

        var builder = new StringBuilder();
        foreach (var c in value.Length > 60 ? value[..60] + "…" : value)
        {
            builder.Append(char.IsControl(c) ? '?' : c);
        }

        return builder.ToString();
    }
}
