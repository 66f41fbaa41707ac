using System;
using System.IO;

namespace Watermark.Formats;

/// <summary>
/// Reads a seekable stream with every length checked against what is left, so that no header value
/// can drive an allocation or a read past the end.
/// </summary>
internal sealed class FileCursor(Stream stream, string source)
{
    public long Position => stream.Position;

    public long Length { get; } = stream.Length;

    public long Remaining => Length - stream.Position;

    public string Source => source;

    public ModelFormatException Error(string problem) => new(source, problem);

    public ModelFormatException Truncated(string what) =>
        Error($"truncated: the file ends inside {what} at byte {Position} of {Length}; the copy is incomplete, copy it again.");

    public byte ReadByte(string what)
    {
        var value = stream.ReadByte();
        if (value < 0)
        {
            throw Truncated(what);
        }

        return (byte)value;
    }

    public byte[] ReadBytes(long count, string what)
    {
        Require(count, what);
        var bytes = new byte[count];
        stream.ReadExactly(bytes);
        return bytes;
    }

    public void ReadExactly(Span<byte> buffer, string what)
    {
        Require(buffer.Length, what);
        stream.ReadExactly(buffer);
    }

    public void Skip(long count, string what)
    {
        Require(count, what);
        stream.Seek(count, SeekOrigin.Current);
    }

    public void Seek(long position) => stream.Seek(position, SeekOrigin.Begin);

    public void Require(long count, string what)
    {
        if (count < 0 || count > Remaining)
        {
            throw Truncated(what);
        }
    }

    /// <summary>An unsigned LEB128 / protobuf varint of at most 10 bytes.</summary>
    public ulong ReadVarint(string what)
    {
        ulong result = 0;
        for (var shift = 0; shift < 70; shift += 7)
        {
            var b = ReadByte(what);
            if (shift == 63 && b > 1)
            {
                break;
            }

            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return result;
            }
        }

        throw Error($"{what} at byte {Position} is a variable-length integer longer than 64 bits; the file is corrupt.");
    }

    /// <summary>A varint that must lie in [0, <paramref name="max"/>].</summary>
    public long ReadVarint(string what, long max)
    {
        var value = ReadVarint(what);
        if (value > (ulong)max)
        {
            throw Error($"{what} is {value}, more than the {max} allowed; the file is corrupt.");
        }

        return (long)value;
    }
}
