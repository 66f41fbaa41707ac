using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Watermark.Formats;
using Xunit;

namespace Watermark.Tests;

public sealed class ModelVerificationTests : IDisposable
{
    private const string Host = "conv2.weight";
    private static readonly long[] HostShape = [4, 32, 3, 3];

    private readonly string folder = Directory.CreateTempSubdirectory("watermark-verify-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Theory]
    [InlineData(ModelFormat.TorchSharpDat, "model.dat")]
    [InlineData(ModelFormat.Safetensors, "model.safetensors")]
    [InlineData(ModelFormat.Onnx, "model.onnx")]
    public void TheOwnersKeyFindsTheMarkInEveryFormatAndAnotherKeyDoesNot(ModelFormat format, string name)
    {
        var owner = Key(Host, HostShape, 1);
        var path = Write(name, format, Tensor(Host, HostShape, MarkedWeight(owner)), Tensor("conv1.weight", [32, 3, 3, 3], Noise(864, 2)));

        var result = new Keyring(owner).Verify(ModelFile.Open(path));
        Assert.True(result.IsPresent, result.ToString());
        Assert.Equal(Host, Assert.Single(result.Slots).Parameter);
        Assert.True(result.Matched >= 60, result.ToString());
        Assert.Equal(VerificationResult.DefaultAlpha, result.Alpha);

        var stranger = new Keyring(Key(Host, HostShape, 3)).Verify(ModelFile.Open(path));
        Assert.False(stranger.IsPresent, stranger.ToString());
    }

    [Fact]
    public void AFileAnotherHandleLocksExclusivelyIsStillRead()
    {
        // A reader takes no advisory lock: a writer's flock can outlive its close in a child forked meanwhile (until
        // the child's exec), and a read must not fail then as "in use" (seen as a flaky CLI test under load).
        var owner = Key(Host, HostShape, 1);
        var path = Write("locked.safetensors", ModelFormat.Safetensors, Tensor(Host, HostShape, MarkedWeight(owner)));
        using var held = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        Assert.True(new Keyring(owner).Verify(ModelFile.Open(path)).IsPresent);
    }

    [Fact]
    public void SlotsAreVerifiedInKeyringOrderAndCombined()
    {
        var a = Key(Host, HostShape, 1);
        var b = Key("fc.weight", [10, 288], 4);
        var path = Write("two.safetensors", ModelFormat.Safetensors, Tensor("fc.weight", [10, 288], Noise(2880, 5)), Tensor(Host, HostShape, MarkedWeight(a)));

        var result = new Keyring(a, b).Verify(ModelFile.Open(path), alpha: 1e-3);
        Assert.Equal([Host, "fc.weight"], result.Slots.Select(s => s.Parameter));
        Assert.Equal(a.Bits + b.Bits, result.Bits);
        Assert.Equal(result.Slots.Sum(s => s.Matched), result.Matched);
        Assert.Equal(1e-3, result.Alpha);
    }

    [Fact]
    public void AMissingSlotNamesItTheFileAndTheCloseNames()
    {
        var path = Write("typo.dat", ModelFormat.TorchSharpDat, Tensor(Host, HostShape, Noise(1152, 1)));
        var e = Assert.ThrowsAny<WatermarkException>(() => new Keyring(Key("conv2.wieght", HostShape, 1)).Verify(ModelFile.Open(path)));
        Assert.Contains("'conv2.wieght'", e.Message, StringComparison.Ordinal);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("Did you mean 'conv2.weight'?", e.Message, StringComparison.Ordinal);
        Assert.Contains("check that the key file belongs to this model", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AKeyForAnotherShapeNamesTheSlotBothShapesAndTheFile()
    {
        var path = Write("shape.onnx", ModelFormat.Onnx, Tensor(Host, HostShape, Noise(1152, 1)));
        var e = Assert.Throws<WatermarkException>(() => new Keyring(Key(Host, [8, 32, 3, 3], 1)).Verify(ModelFile.Open(path)));
        Assert.Contains($"Slot '{Host}'", e.Message, StringComparison.Ordinal);
        Assert.Contains("[8, 32, 3, 3]", e.Message, StringComparison.Ordinal);
        Assert.Contains("[4, 32, 3, 3]", e.Message, StringComparison.Ordinal);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AHostOfIntegersIsRefusedNamingItsType()
    {
        var integers = new StoredTensor(Host, [.. HostShape], TensorDType.Int32, new byte[1152 * 4]);
        var path = Write("ints.safetensors", ModelFormat.Safetensors, integers);
        var e = Assert.Throws<WatermarkException>(() => new Keyring(Key(Host, HostShape, 1)).Verify(ModelFile.Open(path)));
        Assert.Contains($"Slot '{Host}'", e.Message, StringComparison.Ordinal);
        Assert.Contains("int32", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OnlyTheHostsValuesAreRead()
    {
        // bn.weight keeps float16 values in int32_data, which the reader lists but refuses to read:
        // verification succeeds only if it never touches that tensor.
        var owner = Key(Host, HostShape, 1);
        var path = Path.Combine(folder, "trap.onnx");
        File.WriteAllBytes(path, OnnxModel(
            OnnxTensor("bn.weight", [4], dataType: 10, field: 5, Varints([0x3C00, 0x3C00, 0x3C00, 0x3C00])),
            OnnxTensor(Host, HostShape, dataType: 1, field: 9, Floats(MarkedWeight(owner)))));
        var model = ModelFile.Open(path);
        Assert.Throws<ModelFormatException>(() => model.ReadBytes(model.Find("bn.weight")));

        Assert.True(new Keyring(owner).Verify(model).IsPresent);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(double.NaN)]
    public void ABadAlphaIsRefusedBeforeTheModelIsLookedAt(double alpha)
    {
        // The file lacks the slot: looking at it first would throw a WatermarkException instead.
        var path = Write("other.dat", ModelFormat.TorchSharpDat, Tensor("fc.weight", [10, 288], Noise(2880, 1)));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Keyring(Key(Host, HostShape, 1)).Verify(ModelFile.Open(path), alpha));
        Assert.Equal("alpha", e.ParamName);
    }

    private static WatermarkKey Key(string parameter, long[] shape, int seed) =>
        WatermarkKey.Create(parameter, shape, 64, KeyKind.Random, null, WatermarkKey.DefaultStrength, null, false, TestSeeds.Numbered(seed));

    // Every filter equal to w = Xᵀ(2b − 1): the rows of X are nearly orthogonal, so each projection lands on its bit's side.
    private static float[] MarkedWeight(WatermarkKey key)
    {
        var m = key.FilterMeanLength;
        var x = key.ProjectionMatrix().ToArray();
        var b = key.TargetBits().ToArray();
        var w = new double[m];
        for (var j = 0; j < key.Bits; j++)
        {
            for (var i = 0; i < m; i++)
            {
                w[i] += x[(j * m) + i] * (b[j] ? 1 : -1);
            }
        }

        var filters = (int)(key.Shape.Aggregate(1L, (p, d) => p * d) / m);
        return [.. Enumerable.Range(0, filters * m).Select(i => (float)(w[i % m] / key.Bits))];
    }

    private static float[] Noise(int count, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() - 0.5))];
    }

    private static StoredTensor Tensor(string name, long[] shape, float[] values) => new(name, [.. shape], TensorDType.Float32, Floats(values));

    private string Write(string name, ModelFormat format, params StoredTensor[] tensors)
    {
        var path = Path.Combine(folder, name);
        ModelFile.Write(path, format, tensors);
        return path;
    }

    private static byte[] Floats(float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        }

        return bytes;
    }

    // A minimal protobuf encoding of ONNX (ModelProto.graph = 7, GraphProto.initializer = 5; TensorProto:
    // dims = 1, data_type = 2, name = 8, values in field 4/5/9/10), independent of the library's writer.
    private static byte[] OnnxModel(params byte[][] initializers) =>
        Field(7, [.. initializers.SelectMany(tensor => Field(5, tensor))]);

    private static byte[] OnnxTensor(string name, long[] dims, int dataType, int field, byte[] values) =>
        [.. dims.SelectMany(d => Varint(1 << 3).Concat(Varint((ulong)d))), .. Varint(2 << 3), .. Varint((ulong)dataType),
         .. Field(8, System.Text.Encoding.UTF8.GetBytes(name)), .. Field(field, values)];

    private static byte[] Field(int number, byte[] content) => [.. Varint(((ulong)number << 3) | 2), .. Varint((ulong)content.Length), .. content];

    private static byte[] Varints(IEnumerable<ulong> values) => [.. values.SelectMany(Varint)];

    private static IEnumerable<byte> Varint(ulong value)
    {
        var bytes = new List<byte>();
        do
        {
            bytes.Add((byte)((value & 0x7F) | (value > 0x7F ? 0x80UL : 0)));
            value >>= 7;
        }
        while (value != 0);
        return bytes;
    }
}
