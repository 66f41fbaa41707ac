using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Text;

namespace Watermark.Formats.Pickle;

/// <summary>One member of a zip archive, as its central directory describes it.</summary>
internal sealed record ZipMember(string Name, int Method, long CompressedSize, long Size, long LocalHeaderOffset, long CentralOffset, uint Crc32);

/// <summary>
/// The central directory of a zip archive (what <c>torch.save</c> writes since PyTorch 1.6), read
/// from the end of the file without reading any member's data: names, sizes, compression and where
/// each member's local header lies. Zip64 records are understood. Every offset and size is checked
/// against the file before it is used; a name that appears twice is refused.
/// </summary>
internal static class ZipIndex
{
    public const uint LocalSignature = 0x04034b50;
    private const uint CentralSignature = 0x02014b50;
    private const uint EndSignature = 0x06054b50;
    private const uint End64Signature = 0x06064b50;
    private const uint End64LocatorSignature = 0x07064b50;
    private const int EndLength = 22;
    private const int CentralLength = 46;
    private const int LocalLength = 30;

    /// <summary>Most members accepted (a checkpoint has one per storage, plus three).</summary>
    public const int MaxMembers = 1_000_000;

    /// <summary>Largest central directory read (a million members with short names take about 80 MB).</summary>
    private const long MaxDirectoryBytes = 256L * 1024 * 1024;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Whether the file starts like a zip archive (a local file header).</summary>
    public static bool LooksLike(ReadOnlySpan<byte> start) =>
        start.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(start) == LocalSignature;

    /// <summary>The members by name, in central-directory order.</summary>
    public static Dictionary<string, ZipMember> Read(FileCursor cursor)
    {
        var (count, directoryOffset, directorySize) = FindEnd(cursor);
        if (count > MaxMembers || count > directorySize / CentralLength || directorySize > MaxDirectoryBytes)
        {
            throw cursor.Error($"the zip archive's central directory declares {count} members in {directorySize} bytes; it is corrupt or crafted (at most {MaxMembers} members are read).");
        }

        cursor.Seek(directoryOffset);
        var directory = cursor.ReadBytes(directorySize, "the zip central directory");
        var members = new Dictionary<string, ZipMember>((int)count, StringComparer.Ordinal);
        var at = 0;
        for (var i = 0; i < count; i++)
        {
            if (directory.Length - at < CentralLength || BinaryPrimitives.ReadUInt32LittleEndian(directory.AsSpan(at)) != CentralSignature)
            {
                throw cursor.Error($"the zip central directory entry #{i} is missing or has no signature; the archive is corrupt.");
            }

            var entry = directory.AsSpan(at);
            var flags = BinaryPrimitives.ReadUInt16LittleEndian(entry[8..]);
            int method = BinaryPrimitives.ReadUInt16LittleEndian(entry[10..]);
            var crc = BinaryPrimitives.ReadUInt32LittleEndian(entry[16..]);
            long compressed = BinaryPrimitives.ReadUInt32LittleEndian(entry[20..]);
            long size = BinaryPrimitives.ReadUInt32LittleEndian(entry[24..]);
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(entry[28..]);
            int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(entry[30..]);
            int commentLength = BinaryPrimitives.ReadUInt16LittleEndian(entry[32..]);
            long localOffset = BinaryPrimitives.ReadUInt32LittleEndian(entry[42..]);
            if (directory.Length - at - CentralLength < nameLength + extraLength + commentLength)
            {
                throw cursor.Error($"the zip central directory entry #{i} runs past the directory; the archive is corrupt.");
            }

            if ((flags & 1) != 0)
            {
                throw cursor.Error($"the zip member #{i} is encrypted; torch.save never encrypts, so this is not a PyTorch checkpoint.");
            }

            var name = DecodeName(cursor, entry.Slice(CentralLength, nameLength), $"the name of zip member #{i}");
            var extra = entry.Slice(CentralLength + nameLength, extraLength);
            ReadZip64(cursor, extra, name, ref size, ref compressed, ref localOffset);
            if (localOffset > directoryOffset - LocalLength || compressed > directoryOffset - localOffset - LocalLength)
            {
                throw cursor.Error($"the zip member '{Shapes.Printable(name)}' lies outside the archive's data ({compressed} bytes at {localOffset}); it is corrupt or truncated.");
            }

            if (!members.TryAdd(name, new ZipMember(name, method, compressed, size, localOffset, directoryOffset + at, crc)))
            {
                throw cursor.Error($"the zip archive holds two members named '{Shapes.Printable(name)}'; a reader could take either, so the file cannot be verified.");
            }

            at += CentralLength + nameLength + extraLength + commentLength;
        }

        return members;
    }

    /// <summary>Where a stored member's bytes start, from its local header (which must agree with the central directory).</summary>
    public static long DataOffset(FileCursor cursor, ZipMember member)
    {
        var printable = Shapes.Printable(member.Name);
        cursor.Seek(member.LocalHeaderOffset);
        Span<byte> header = stackalloc byte[LocalLength];
        cursor.ReadExactly(header, $"the zip local header of '{printable}'");
        if (BinaryPrimitives.ReadUInt32LittleEndian(header) != LocalSignature)
        {
            throw cursor.Error($"the zip member '{printable}' has no local header where the central directory says (byte {member.LocalHeaderOffset}); the archive is corrupt.");
        }

        int method = BinaryPrimitives.ReadUInt16LittleEndian(header[8..]);
        int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(header[26..]);
        int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(header[28..]);
        var name = DecodeName(cursor, cursor.ReadBytes(nameLength, $"the local name of '{printable}'"), $"the local name of '{printable}'");
        if (name != member.Name || method != member.Method)
        {
            throw cursor.Error($"the zip member '{printable}' has a local header that disagrees with the central directory (name or compression); two zip readers could see different files, so it cannot be verified.");
        }

        cursor.Skip(extraLength, $"the local extra field of '{printable}'");
        var offset = cursor.Position;
        cursor.Require(member.CompressedSize, $"the data of zip member '{printable}' ({member.CompressedSize} bytes expected)");
        return offset;
    }

    private static (long Count, long Offset, long Size) FindEnd(FileCursor cursor)
    {
        // The end record is the last 22 bytes plus a comment of up to 65,535 bytes; it must end the file exactly.
        // torch.save writes no comment, so the last 22 bytes are tried alone before the whole tail is read.
        var tailLength = (int)Math.Min(cursor.Length, EndLength);
        if (tailLength == EndLength && TryFindEnd(cursor, tailLength) is { } quick)
        {
            return quick;
        }

        tailLength = (int)Math.Min(cursor.Length, EndLength + ushort.MaxValue);
        return TryFindEnd(cursor, tailLength) ?? throw cursor.Error("starts like a zip archive but has no end-of-central-directory record; the copy is truncated, copy it again.");
    }

    private static (long Count, long Offset, long Size)? TryFindEnd(FileCursor cursor, int tailLength)
    {
        cursor.Seek(cursor.Length - tailLength);
        var tail = cursor.ReadBytes(tailLength, "the end of the zip archive");
        for (var at = tailLength - EndLength; at >= 0; at--)
        {
            var end = tail.AsSpan(at);
            if (BinaryPrimitives.ReadUInt32LittleEndian(end) != EndSignature || BinaryPrimitives.ReadUInt16LittleEndian(end[20..]) != tailLength - at - EndLength)
            {
                continue;
            }

            if (BinaryPrimitives.ReadUInt16LittleEndian(end[4..]) != 0 || BinaryPrimitives.ReadUInt16LittleEndian(end[6..]) != 0)
            {
                throw cursor.Error("is a zip archive split over several disks; join the parts first.");
            }

            long count = BinaryPrimitives.ReadUInt16LittleEndian(end[10..]);
            long size = BinaryPrimitives.ReadUInt32LittleEndian(end[12..]);
            long offset = BinaryPrimitives.ReadUInt32LittleEndian(end[16..]);
            var endPosition = cursor.Length - tailLength + at;
            if (count == ushort.MaxValue || size == uint.MaxValue || offset == uint.MaxValue)
            {
                (count, offset, size, endPosition) = ReadEnd64(cursor, endPosition);
            }

            if (offset > endPosition || size > endPosition - offset)
            {
                throw cursor.Error($"the zip central directory ({size} bytes at {offset}) lies outside the file; the archive is truncated or corrupt.");
            }

            return (count, offset, size);
        }

        return null;
    }

    private static (long Count, long Offset, long Size, long EndPosition) ReadEnd64(FileCursor cursor, long endPosition)
    {
        const int LocatorLength = 20;
        const int End64Length = 56;
        if (endPosition < LocatorLength)
        {
            throw cursor.Error("the zip archive needs a zip64 end record but has none; it is corrupt.");
        }

        cursor.Seek(endPosition - LocatorLength);
        Span<byte> locator = stackalloc byte[LocatorLength];
        cursor.ReadExactly(locator, "the zip64 end locator");
        var recordOffset = BinaryPrimitives.ReadInt64LittleEndian(locator[8..]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(locator) != End64LocatorSignature || recordOffset < 0 || recordOffset > endPosition - LocatorLength - End64Length)
        {
            throw cursor.Error("the zip archive needs a zip64 end record but its locator is missing or points outside the file; it is corrupt.");
        }

        cursor.Seek(recordOffset);
        Span<byte> record = stackalloc byte[End64Length];
        cursor.ReadExactly(record, "the zip64 end record");
        var count = BinaryPrimitives.ReadInt64LittleEndian(record[32..]);
        var size = BinaryPrimitives.ReadInt64LittleEndian(record[40..]);
        var offset = BinaryPrimitives.ReadInt64LittleEndian(record[48..]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(record) != End64Signature || count < 0 || size < 0 || offset < 0)
        {
            throw cursor.Error("the zip64 end record is corrupt.");
        }

        return (count, offset, size, recordOffset);
    }

    // The zip64 extra field (id 1) holds, in this order, each of the sizes and the offset whose 32-bit field is 0xFFFFFFFF.
    private static void ReadZip64(FileCursor cursor, ReadOnlySpan<byte> extra, string name, ref long size, ref long compressed, ref long localOffset)
    {
        if (size != uint.MaxValue && compressed != uint.MaxValue && localOffset != uint.MaxValue)
        {
            return;
        }

        while (extra.Length >= 4)
        {
            var id = BinaryPrimitives.ReadUInt16LittleEndian(extra);
            int length = BinaryPrimitives.ReadUInt16LittleEndian(extra[2..]);
            if (length > extra.Length - 4)
            {
                break;
            }

            var field = extra.Slice(4, length);
            extra = extra[(4 + length)..];
            if (id != 1)
            {
                continue;
            }

            if (size == uint.MaxValue)
            {
                size = Take(ref field);
            }

            if (compressed == uint.MaxValue)
            {
                compressed = Take(ref field);
            }

            if (localOffset == uint.MaxValue)
            {
                localOffset = Take(ref field);
            }

            if (size >= 0 && compressed >= 0 && localOffset >= 0)
            {
                return;
            }

            break;
        }

        throw cursor.Error($"the zip member '{Shapes.Printable(name)}' needs a zip64 extra field that is missing or corrupt.");
    }

    private static long Take(ref ReadOnlySpan<byte> field)
    {
        if (field.Length < 8)
        {
            return -1;
        }

        var value = BinaryPrimitives.ReadInt64LittleEndian(field);
        field = field[8..];
        return value;
    }

    private static string DecodeName(FileCursor cursor, ReadOnlySpan<byte> bytes, string what)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw cursor.Error($"{what} is not valid UTF-8; the archive is corrupt.");
        }
    }
}
