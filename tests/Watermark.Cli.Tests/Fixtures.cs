using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Text;
using Google.Protobuf;
using Watermark.Tests;

namespace Watermark.Cli.Tests;

/// <summary>
/// Model files encoded independently of the library's writers: safetensors bytes laid out by hand
/// per the format's spec, and ONNX built field by field with Google.Protobuf's CodedOutputStream.
/// </summary>
internal static class Fixtures
{
    /// <summary>A safetensors file from a hand-written JSON header and the raw data.</summary>
    public static byte[] Safetensors(string headerJson, byte[] data)
    {
        var header = Encoding.UTF8.GetBytes(headerJson);
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    public static byte[] Floats(IEnumerable<float> values)
    {
        var stream = new MemoryStream();
        Span<byte> four = stackalloc byte[4];
        foreach (var v in values)
        {
            BinaryPrimitives.WriteSingleLittleEndian(four, v);
            stream.Write(four);
        }

        return stream.ToArray();
    }

    public static byte[] Doubles(IEnumerable<double> values)
    {
        var stream = new MemoryStream();
        Span<byte> eight = stackalloc byte[8];
        foreach (var v in values)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(eight, v);
            stream.Write(eight);
        }

        return stream.ToArray();
    }

    /// <summary>An ONNX TensorProto with packed dims and packed float_data (field 4), as some exporters write it.</summary>
    public static byte[] OnnxFloatDataTensor(string name, long[] dims, float[] values) => Message(o =>
    {
        o.WriteTag(1, WireFormat.WireType.LengthDelimited);
        o.WriteBytes(Message(p =>
        {
            foreach (var d in dims)
            {
                p.WriteInt64(d);
            }
        }));
        o.WriteTag(2, WireFormat.WireType.Varint);
        o.WriteInt32(1);
        o.WriteTag(4, WireFormat.WireType.LengthDelimited);
        o.WriteLength(values.Length * 4);
        foreach (var v in values)
        {
            o.WriteFloat(v);
        }

        o.WriteTag(8, WireFormat.WireType.LengthDelimited);
        o.WriteString(name);
    }).ToByteArray();

    /// <summary>An ONNX TensorProto with unpacked dims and raw_data, as torch.onnx.export writes it.</summary>
    public static byte[] OnnxRawTensor(string name, long[] dims, int dataType, byte[] raw) => Message(o =>
    {
        o.WriteTag(8, WireFormat.WireType.LengthDelimited);
        o.WriteString(name);
        foreach (var d in dims)
        {
            o.WriteTag(1, WireFormat.WireType.Varint);
            o.WriteInt64(d);
        }

        o.WriteTag(2, WireFormat.WireType.Varint);
        o.WriteInt32(dataType);
        o.WriteTag(12, WireFormat.WireType.LengthDelimited);
        o.WriteString("a doc string the reader skips");
        o.WriteTag(9, WireFormat.WireType.LengthDelimited);
        o.WriteBytes(ByteString.CopyFrom(raw));
    }).ToByteArray();

    /// <summary>A ModelProto with the usual header fields, one Conv node, graph inputs and the given initializers.</summary>
    public static byte[] OnnxModel(params byte[][] initializers) => Message(o =>
    {
        o.WriteTag(1, WireFormat.WireType.Varint);
        o.WriteInt64(7);
        o.WriteTag(2, WireFormat.WireType.LengthDelimited);
        o.WriteString("pytorch");
        o.WriteTag(3, WireFormat.WireType.LengthDelimited);
        o.WriteString("2.1.0");
        o.WriteTag(8, WireFormat.WireType.LengthDelimited);
        o.WriteBytes(Message(p =>
        {
            p.WriteTag(2, WireFormat.WireType.Varint);
            p.WriteInt64(13);
        }));
        o.WriteTag(7, WireFormat.WireType.LengthDelimited);
        o.WriteBytes(Message(g =>
        {
            g.WriteTag(1, WireFormat.WireType.LengthDelimited);
            g.WriteBytes(Message(n =>
            {
                n.WriteTag(1, WireFormat.WireType.LengthDelimited);
                n.WriteString("input");
                n.WriteTag(1, WireFormat.WireType.LengthDelimited);
                n.WriteString("conv2.weight");
                n.WriteTag(2, WireFormat.WireType.LengthDelimited);
                n.WriteString("output");
                n.WriteTag(4, WireFormat.WireType.LengthDelimited);
                n.WriteString("Conv");
            }));
            g.WriteTag(2, WireFormat.WireType.LengthDelimited);
            g.WriteString("main_graph");
            foreach (var initializer in initializers)
            {
                g.WriteTag(5, WireFormat.WireType.LengthDelimited);
                g.WriteBytes(ByteString.CopyFrom(initializer));
            }

            g.WriteTag(11, WireFormat.WireType.LengthDelimited);
            g.WriteBytes(Message(v =>
            {
                v.WriteTag(1, WireFormat.WireType.LengthDelimited);
                v.WriteString("input");
            }));
        }));
    }).ToByteArray();

    private static ByteString Message(Action<CodedOutputStream> write) => MultiPartModels.Message(write);
}
