using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Watermark.Formats;
using Watermark.Formats.Pickle;
using Xunit;

namespace Watermark.Tests;

/// <summary>Hand-built torch.save archives and pickles, for inputs real PyTorch would not write.</summary>
internal static class TorchFiles
{
    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "pytorch", name);

    /// <summary>
    /// Asserts that <paramref name="file"/> holds what a fixture script's expected.json says torch saw: every
    /// tensor's name, shape and dtype, and the host's first values and SHA-256 (row-major float32).
    /// </summary>
    public static void AssertHoldsWhatTorchSays(ModelFile file, JsonElement expected)
    {
        var tensors = expected.GetProperty("tensors").EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
        Assert.Equal(tensors.Keys.Order(StringComparer.Ordinal), file.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));
        foreach (var entry in file.Tensors)
        {
            var want = tensors[entry.Name];
            Assert.Equal(want.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()), entry.Shape);
            Assert.Equal(want.GetProperty("dtype").GetString(), entry.DTypeName);
            // Every tensor reads (integer ones as bytes), and its bytes are the row-major values.
            Assert.Equal(entry.ElementCount * entry.DType.Size(), file.ReadBytes(entry).Length);
            if (entry.DType.IsReal())
            {
                // Verification reads into a reused buffer (float32 straight from the file): the same values.
                var into = new float[entry.ElementCount];
                file.ReadFloat32(entry, into);
                Assert.Equal(file.ReadFloat32(entry), into);
            }
        }

        var values = file.ReadFloat32(file.Find(expected.GetProperty("host").GetString()!));
        Assert.Equal(expected.GetProperty("first").EnumerateArray().Select(v => (float)v.GetDouble()), values.Take(8));
        Assert.Equal(expected.GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(Floats(values))));
    }

    /// <summary>A zip of stored members, as torch.save writes it (no data descriptors, no compression unless <paramref name="method"/>).</summary>
    public static byte[] Zip(IEnumerable<(string Name, byte[] Data)> members, ushort method = 0)
    {
        var output = new MemoryStream();
        var central = new MemoryStream();
        var count = 0;
        foreach (var (name, data) in members)
        {
            var nameBytes = Encoding.UTF8.GetBytes(name);
            var crc = Crc32.Compute(data);
            var offset = (uint)output.Position;
            var local = new byte[30];
            BinaryPrimitives.WriteUInt32LittleEndian(local, 0x04034b50);
            BinaryPrimitives.WriteUInt16LittleEndian(local.AsSpan(4), 20);
            BinaryPrimitives.WriteUInt16LittleEndian(local.AsSpan(8), method);
            BinaryPrimitives.WriteUInt32LittleEndian(local.AsSpan(14), crc);
            BinaryPrimitives.WriteUInt32LittleEndian(local.AsSpan(18), (uint)data.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(local.AsSpan(22), (uint)data.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(local.AsSpan(26), (ushort)nameBytes.Length);
            output.Write(local);
            output.Write(nameBytes);
            output.Write(data);

            var entry = new byte[46];
            BinaryPrimitives.WriteUInt32LittleEndian(entry, 0x02014b50);
            BinaryPrimitives.WriteUInt16LittleEndian(entry.AsSpan(4), 20);
            BinaryPrimitives.WriteUInt16LittleEndian(entry.AsSpan(6), 20);
            BinaryPrimitives.WriteUInt16LittleEndian(entry.AsSpan(10), method);
            BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(16), crc);
            BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(20), (uint)data.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(24), (uint)data.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(entry.AsSpan(28), (ushort)nameBytes.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(42), offset);
            central.Write(entry);
            central.Write(nameBytes);
            count++;
        }

        var directoryOffset = (uint)output.Position;
        central.Position = 0;
        central.CopyTo(output);
        var end = new byte[22];
        BinaryPrimitives.WriteUInt32LittleEndian(end, 0x06054b50);
        BinaryPrimitives.WriteUInt16LittleEndian(end.AsSpan(8), (ushort)count);
        BinaryPrimitives.WriteUInt16LittleEndian(end.AsSpan(10), (ushort)count);
        BinaryPrimitives.WriteUInt32LittleEndian(end.AsSpan(12), (uint)central.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(end.AsSpan(16), directoryOffset);
        output.Write(end);
        return output.ToArray();
    }

    /// <summary>A checkpoint archive: <c>archive/data.pkl</c> holding <paramref name="pickle"/>, the storages, and <c>archive/version</c>.</summary>
    public static byte[] Checkpoint(byte[] pickle, params (string Key, byte[] Data)[] storages) =>
        Zip([("archive/data.pkl", pickle), .. storages.Select(s => ($"archive/data/{s.Key}", s.Data)), ("archive/version", "3\n"u8.ToArray())]);

    /// <summary>A pickle assembled from opcodes and arguments: strings are written as UTF-8 bytes, byte arrays and bytes as given.</summary>
    public static byte[] Pickle(params object[] parts)
    {
        var output = new MemoryStream();
        output.Write([0x80, 0x02]);
        foreach (var part in parts)
        {
            switch (part)
            {
                case byte b:
                    output.WriteByte(b);
                    break;
                case int i:
                    output.WriteByte(checked((byte)i));
                    break;
                case char c:
                    output.WriteByte((byte)c);
                    break;
                case byte[] bytes:
                    output.Write(bytes);
                    break;
                case string s:
                    output.Write(Encoding.UTF8.GetBytes(s));
                    break;
                default:
                    throw new ArgumentException($"Cannot write {part}.", nameof(parts));
            }
        }

        output.WriteByte((byte)'.');
        return output.ToArray();
    }

    /// <summary>BINUNICODE of <paramref name="text"/>.</summary>
    public static byte[] Str(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var result = new byte[5 + bytes.Length];
        result[0] = (byte)'X';
        BinaryPrimitives.WriteInt32LittleEndian(result.AsSpan(1), bytes.Length);
        bytes.CopyTo(result, 5);
        return result;
    }

    /// <summary>BININT of <paramref name="value"/>.</summary>
    public static byte[] Int(int value)
    {
        var result = new byte[5];
        result[0] = (byte)'J';
        BinaryPrimitives.WriteInt32LittleEndian(result.AsSpan(1), value);
        return result;
    }

    /// <summary>A tuple of BININTs: MARK ints TUPLE.</summary>
    public static byte[] Ints(params int[] values) => [(byte)'(', .. values.SelectMany(Int), (byte)'t'];

    /// <summary>
    /// A pickled <c>_rebuild_tensor_v2(('storage', torch.STORAGE, key, 'cpu', numel), offset, size, stride, False, OrderedDict())</c>,
    /// as torch.save writes each tensor.
    /// </summary>
    public static byte[] Tensor(string storage, string key, int numel, int offset, int[] size, int[] stride) =>
    [
        .. "ctorch._utils\n_rebuild_tensor_v2\n"u8, (byte)'(',
        (byte)'(', .. Str("storage"), .. Encoding.UTF8.GetBytes($"ctorch\n{storage}\n"), .. Str(key), .. Str("cpu"), .. Int(numel), (byte)'t', (byte)'Q',
        .. Int(offset), .. Ints(size), .. Ints(stride), 0x89, .. "ccollections\nOrderedDict\n"u8, (byte)')', (byte)'R', (byte)'t', (byte)'R',
    ];

    /// <summary>A pickled dict of the given items (already pickled keys and values): EMPTY_DICT MARK items SETITEMS.</summary>
    public static byte[] Dict(params (string Key, byte[] Value)[] items) =>
        [(byte)'}', (byte)'(', .. items.SelectMany(i => (byte[])[.. Str(i.Key), .. i.Value]), (byte)'u'];

    public static byte[] Floats(params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        }

        return bytes;
    }
}
