using System;
using System.IO;
using System.Linq;
using TorchSharp;
using Watermark.Formats;
using Xunit;
using static TorchSharp.torch;

namespace Watermark.Cli.Tests;

[Collection(TrainedModelsGroup.Name)]
public class FormatTests(TrainedModels models)
{
    [Fact]
    public void TheDatReaderSeesWhatTorchSharpSaved()
    {
        lock (SequentialTorch.Lock)
        {
            torch.manual_seed(31);
            using var model = new TwoLayers();
            var path = models.PathOf($"state-{Guid.NewGuid():N}.dat");
            model.save(path);
            var file = ModelFile.Open(path);
            Assert.Equal(ModelFormat.TorchSharpDat, file.Format);
            var state = model.state_dict();
            Assert.Equal(state.Keys, file.Tensors.Select(t => t.Name));
            foreach (var entry in file.Tensors)
            {
                var tensor = state[entry.Name];
                Assert.Equal(tensor.shape, entry.Shape.ToArray());
                Assert.Equal(TensorDType.Float32, entry.DType);
                Assert.Equal(tensor.data<float>().ToArray(), file.ReadFloat32(entry));
            }
        }
    }

    [Theory]
    [InlineData(ScalarType.Float32, TensorDType.Float32)]
    [InlineData(ScalarType.Float16, TensorDType.Float16)]
    [InlineData(ScalarType.BFloat16, TensorDType.BFloat16)]
    [InlineData(ScalarType.Float64, TensorDType.Float64)]
    public void TheDatReaderSeesBatchNormBuffersAndEveryFloatTypeTorchSharpSaves(ScalarType type, TensorDType expected)
    {
        lock (SequentialTorch.Lock)
        {
            torch.manual_seed(32);
            using var model = nn.Sequential(("conv", nn.Conv2d(3, 8, 3)), ("bn", nn.BatchNorm2d(8)));
            model.to(type);
            var path = models.PathOf($"bn-{type}-{Guid.NewGuid():N}.dat");
            model.save(path);
            var file = ModelFile.Open(path);
            var state = model.state_dict();
            Assert.Equal(state.Keys, file.Tensors.Select(t => t.Name));
            var counter = file.Find("bn.num_batches_tracked");
            Assert.Equal(TensorDType.Int64, counter.DType);
            Assert.Empty(counter.Shape);
            var weight = file.Find("conv.weight");
            Assert.Equal(expected, weight.DType);
            using var asFloat = state["conv.weight"].to(ScalarType.Float32);
            Assert.Equal(asFloat.data<float>().ToArray(), file.ReadFloat32(weight));
        }
    }

    [Fact]
    public void TorchSharpLoadsWhatTheDatWriterWrote()
    {
        // Written from the safetensors copy, so the bytes pass through two of our writers first.
        var path = models.PathOf($"rewritten-{Guid.NewGuid():N}.dat");
        ModelFile.Write(path, ModelFormat.TorchSharpDat, ModelFile.Open(models.MarkedSafetensors).ReadAll());
        lock (SequentialTorch.Lock)
        {
            using var model = new TwoLayers();
            model.load(path);
            Assert.Equal(models.MarkedHost, model.Host.weight!.data<float>().ToArray());
        }
    }

    [Fact]
    public void AHandBuiltSafetensorsFileIsReadPerTheSpec()
    {
        var data = Fixtures.Doubles([1.5, -2.25, 3, 4, 5, 6])
            .Concat(new byte[] { 0x00, 0x3C, 0x00, 0xC0 }) // float16 1.0, -2.0
            .Concat(new byte[] { 0x80, 0x3F, 0x40, 0xC0 }) // bfloat16 1.0, -3.0
            .ToArray();
        var header = """{"__metadata__":{"format":"pt"},"half":{"dtype":"F16","shape":[2],"data_offsets":[48,52]},"w":{"dtype":"F64","shape":[2,3],"data_offsets":[0,48]},"b":{"shape":[2],"dtype":"BF16","data_offsets":[52,56]},"f8":{"dtype":"F8_E4M3","shape":[0],"data_offsets":[56,56]}}  """;
        var file = ModelFile.Read(Fixtures.Safetensors(header, data), "hand.safetensors");
        Assert.Equal(ModelFormat.Safetensors, file.Format);
        Assert.Equal(["half", "w", "b", "f8"], file.Tensors.Select(t => t.Name));
        Assert.Equal([1.5f, -2.25f, 3, 4, 5, 6], file.ReadFloat32(file.Find("w")));
        Assert.Equal([2L, 3L], file.Find("w").Shape.ToArray());
        Assert.Equal([1f, -2f], file.ReadFloat32(file.Find("half")));
        Assert.Equal([1f, -3f], file.ReadFloat32(file.Find("b")));
        Assert.Equal("F8_E4M3", file.Find("f8").DTypeName);
    }

    [Fact]
    public void AHandBuiltOnnxModelIsReadPerTheSpec()
    {
        var bytes = Fixtures.OnnxModel(
            Fixtures.OnnxFloatDataTensor("w", [2, 2], [1, -2, 3, -4]),
            Fixtures.OnnxRawTensor("d", [3], dataType: 11, Fixtures.Doubles([0.5, 1.5, -2.5])),
            Fixtures.OnnxRawTensor("h", [1, 2], dataType: 10, [0x00, 0x3C, 0x00, 0xC0]));
        var file = ModelFile.Read(bytes, "hand.onnx");
        Assert.Equal(ModelFormat.Onnx, file.Format);
        Assert.Equal(["w", "d", "h"], file.Tensors.Select(t => t.Name));
        Assert.Equal([1f, -2f, 3f, -4f], file.ReadFloat32(file.Find("w")));
        Assert.Equal([2L, 2L], file.Find("w").Shape.ToArray());
        Assert.Equal([0.5f, 1.5f, -2.5f], file.ReadFloat32(file.Find("d")));
        Assert.Equal([1f, -2f], file.ReadFloat32(file.Find("h")));
    }

    [Fact]
    public void AnIndependentlyEncodedOnnxCopyGivesTheSameVerdict()
    {
        var marked = ModelFile.Open(models.MarkedDat);
        var initializers = marked.Tensors
            .Select(t => Fixtures.OnnxFloatDataTensor(t.Name, [.. t.Shape], marked.ReadFloat32(t)))
            .ToArray();
        var path = models.PathOf($"exporter-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, Fixtures.OnnxModel(initializers));
        var run = CliRunner.Run("verify", "--model", path, "--key", models.OwnerKey);
        Assert.True(run.Code == ExitCodes.Present, run.ToString());
        Assert.Matches(@"conv2\.weight\s+64\s+64\s+0\.000", run.Out);
    }

    [Theory]
    [InlineData(TensorDType.Float16)]
    [InlineData(TensorDType.BFloat16)]
    [InlineData(TensorDType.Float64)]
    public void HalfAndDoublePrecisionCopiesAreReadByConverting(TensorDType dtype)
    {
        var marked = ModelFile.Open(models.MarkedDat);
        var tensors = marked.Tensors.Select(t =>
        {
            var values = marked.ReadFloat32(t);
            var bytes = new byte[values.Length * dtype.Size()];
            TensorDTypes.FromSingle(dtype, values, bytes);
            return new StoredTensor(t.Name, t.Shape, dtype, bytes);
        }).ToList();
        var path = models.PathOf($"{dtype}-{Guid.NewGuid():N}.safetensors");
        ModelFile.Write(path, ModelFormat.Safetensors, tensors);
        Assert.Equal(dtype, ModelFile.Open(path).Find(TrainedModels.Host).DType);
        var run = CliRunner.Run("verify", "--model", path, "--key", models.OwnerKey);
        Assert.True(run.Code == ExitCodes.Present, run.ToString());
    }

    [Fact]
    public void OnnxMarkedExternalWithoutALocationIsRefusedWithTheReason()
    {
        var external = Fixtures.OnnxRawTensor("w", [2], dataType: 1, []).Concat(new byte[] { 14 << 3, 1 }).ToArray();
        var e = Assert.Throws<ModelFormatException>(() => ModelFile.Read(Fixtures.OnnxModel(external), "x.onnx"));
        Assert.Contains("its external_data has no 'location'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OnnxValuesInInt32DataAreListedButNotReadAsWeights()
    {
        // float16 values in int32_data (one varint per value), as onnx.helper writes them.
        var tensor = Fixtures.OnnxRawTensor("h", [2], dataType: 10, []).Concat(new byte[] { (5 << 3) | 2, 2, 0x80, 0x78, }).ToArray();
        var file = ModelFile.Read(Fixtures.OnnxModel(tensor), "int32.onnx");
        var entry = file.Find("h");
        Assert.Equal(TensorDType.Float16, entry.DType);
        var e = Assert.Throws<ModelFormatException>(() => file.ReadFloat32(entry));
        Assert.Contains("re-export the model with raw_data", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("dat")]
    [InlineData("safetensors")]
    [InlineData("onnx")]
    public void ConvertKeepsEveryTensorExactly(string format)
    {
        var path = models.PathOf($"converted-{Guid.NewGuid():N}.{format}");
        var run = CliRunner.Run("convert", "--model", models.MarkedDat, "--out", path);
        Assert.True(run.Code == 0, run.ToString());
        var source = ModelFile.Open(models.MarkedDat);
        var copy = ModelFile.Open(path);
        Assert.Equal(source.Tensors.Select(t => t.ToString()), copy.Tensors.Select(t => t.ToString()));
        foreach (var entry in source.Tensors)
        {
            Assert.Equal(source.ReadBytes(entry), copy.ReadBytes(copy.Find(entry.Name)));
        }
    }

    [Fact]
    public void InspectListsNamesShapesTypesAndM()
    {
        var run = CliRunner.Run("inspect", "--model", models.MarkedOnnx);
        Assert.True(run.Code == 0, run.ToString());
        Assert.Contains("ONNX, 4 tensors", run.Out, StringComparison.Ordinal);
        Assert.Matches(@"conv2\.weight\s+\[32, 16, 3, 3\]\s+float32\s+144", run.Out);
        Assert.Matches(@"conv2\.bias\s+\[32\]\s+float32\s+-", run.Out);
    }
}
