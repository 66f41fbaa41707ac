using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using Watermark.Formats;
using Xunit;
using static Watermark.Tests.TorchFiles;

namespace Watermark.Tests;

/// <summary>
/// Models in several files: the sharded safetensors and external-data ONNX models written by real torch and
/// onnx (eng/fixtures/make_sharded_fixtures.py) read as torch says, lazily, each tensor from its own file;
/// writing them is refused with the way out; and every hostile layout is refused naming the problem.
/// </summary>
public sealed class ShardedAndExternalDataTests : IDisposable
{
    private const string Index = "sharded/model.safetensors.index.json";
    private const string OneFile = "onnx-external-one-file/model.onnx";
    private const string PerTensor = "onnx-external-per-tensor/model.onnx";
    private readonly string root = Path.Combine(Path.GetTempPath(), $"wmk-multipart-{Guid.NewGuid():N}");

    public ShardedAndExternalDataTests() => Directory.CreateDirectory(root);

    public static TheoryData<string> Expected() => [.. ExpectedModels().Select(p => p.Name)];

    public static TheoryData<string> HostileCases() => [.. MultiPartModels.Hostile.Keys];

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Theory]
    [MemberData(nameof(Expected))]
    public void EveryFixtureReadsAsTorchSays(string key)
    {
        var expected = ExpectedModels().Single(p => p.Name == key).Value;
        var file = ModelFile.Open(Multipart(key));
        Assert.Equal(key.EndsWith(".onnx", StringComparison.Ordinal) ? ModelFormat.Onnx : ModelFormat.Safetensors, file.Format);
        AssertHoldsWhatTorchSays(file, expected);
    }

    [Fact]
    public void PartsListEveryFileTheModelReadsOpenedFileFirst()
    {
        var sharded = ModelFile.Open(Multipart(Index));
        Assert.Equal<string>(
            [Multipart(Index), .. Enumerable.Range(0, 3).Select(i => Multipart($"sharded/{MultiPartModels.ShardName(i, 3)}"))],
            sharded.Parts);
        // Tensors follow the index's (sorted) weight_map; each is read from its shard.
        Assert.Equal(sharded.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal), sharded.Tensors.Select(t => t.Name));
        Assert.Equal("float16", sharded.Find("fc.weight").DTypeName);
        Assert.Equal("int64", sharded.Find("bn1.num_batches_tracked").DTypeName);

        // Six initializers share one data file, at offsets: two parts.
        Assert.Equal<string>([Multipart(OneFile), Multipart("onnx-external-one-file/model.onnx.data")], ModelFile.Open(Multipart(OneFile)).Parts);
        var perTensor = ModelFile.Open(Multipart(PerTensor));
        Assert.Equal<string>([Multipart(PerTensor), .. perTensor.Tensors.Select(t => Multipart($"onnx-external-per-tensor/{t.Name}"))], perTensor.Parts);

        // A single-file model is its one part.
        Assert.Equal<string>([Fixture("plain.pt")], ModelFile.Open(Fixture("plain.pt")).Parts);
    }

    [Fact]
    public void FixturesAreTinyAndWhatTheToolsWrote()
    {
        foreach (var file in Directory.GetFiles(Multipart(string.Empty), "*", SearchOption.AllDirectories).Where(f => !f.Contains("pytorch", StringComparison.Ordinal)))
        {
            Assert.InRange(new FileInfo(file).Length, 1, 100_000);
        }

        using var index = JsonDocument.Parse(File.ReadAllText(Multipart(Index)));
        var total = index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64();
        var model = ModelFile.Open(Multipart(Index));
        Assert.Equal(total, model.Tensors.Sum(t => t.ElementCount * t.DType.Size()));
    }

    [Fact]
    public void ValuesAreReadWhenAskedNotWhenOpened()
    {
        var folder = CopyFixture("onnx-external-one-file");
        var model = ModelFile.Open(Path.Combine(folder, "model.onnx"));
        var host = model.Find("conv2.weight");
        var before = model.ReadFloat32(host);
        var data = File.ReadAllBytes(Path.Combine(folder, MultiPartModels.DataFile));
        var offset = model.Tensors.TakeWhile(t => t.Name != host.Name).Sum(t => (int)(t.ElementCount * 4));
        Array.Clear(data, offset, before.Length * 4);
        File.WriteAllBytes(Path.Combine(folder, MultiPartModels.DataFile), data);
        Assert.All(model.ReadFloat32(host), v => Assert.Equal(0f, v));
        Assert.Contains(before, v => v != 0f);

        // A data file cut short after opening: the read names the file and says it is truncated.
        File.WriteAllBytes(Path.Combine(folder, MultiPartModels.DataFile), data[..100]);
        var e = Assert.Throws<ModelFormatException>(() => model.ReadFloat32(model.Find("fc.bias")));
        Assert.Equal(Path.Combine(folder, MultiPartModels.DataFile), e.FilePath);
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(Index, ModelFormat.TorchSharpDat)]
    [InlineData(Index, ModelFormat.Onnx)]
    [InlineData(PerTensor, ModelFormat.Safetensors)]
    public void ConvertingToOneFileKeepsEveryTensorExactly(string key, ModelFormat target)
    {
        var source = ModelFile.Open(Multipart(key));
        var path = Path.Combine(root, "one-file.model");
        ModelFile.Write(path, target, source.ReadAll());
        var copy = ModelFile.Open(path, target);
        Assert.Single(copy.Parts);
        Assert.Equal(source.Tensors.Select(t => t.ToString()), copy.Tensors.Select(t => t.ToString()));
        foreach (var entry in source.Tensors)
        {
            Assert.Equal(source.ReadBytes(entry), copy.ReadBytes(copy.Find(entry.Name)));
        }
    }

    [Theory]
    [InlineData(Index, "a sharded safetensors model (an index and 3 shard files)")]
    [InlineData(OneFile, "an ONNX model with its values in 1 external data file")]
    public void WritingAChangedCopyIsRefusedWithTheWayOut(string key, string what)
    {
        var model = ModelFile.Open(Multipart(key));
        var host = model.Find("conv2.weight");
        var values = new float[host.ElementCount];
        var path = Path.Combine(root, "changed");
        var replaced = Assert.Throws<NotSupportedException>(() => model.WriteWithReplaced(path, host, values));
        Assert.Contains(what, replaced.Message, StringComparison.Ordinal);
        Assert.Contains("watermark convert", replaced.Message, StringComparison.Ordinal);
        var resized = Assert.Throws<NotSupportedException>(() => model.WriteWithResized(path, [(host, host.Shape, values)]));
        Assert.Contains("watermark convert", resized.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
    }

    [Theory]
    [InlineData(OneFile, "model.onnx", "external data file")]
    [InlineData(Index, "model.safetensors.index.json", "shard")]
    public void AModelReadFromMemoryCannotNameOtherFiles(string key, string name, string what)
    {
        var e = Assert.Throws<ModelFormatException>(() => ModelFile.Read(File.ReadAllBytes(Multipart(key)), name));
        Assert.Contains($"names the {what}", e.Message, StringComparison.Ordinal);
        Assert.Contains("read from memory has no folder", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnIndexUnderAnotherNameIsReadWhenSafetensorsIsGiven()
    {
        var folder = CopyFixture("sharded");
        var renamed = Path.Combine(folder, "weights.json");
        File.Move(Path.Combine(folder, "model.safetensors.index.json"), renamed);
        var unknown = Assert.Throws<ModelFormatException>(() => ModelFile.Open(renamed));
        Assert.Contains(".safetensors.index.json", unknown.Message, StringComparison.Ordinal);
        Assert.Equal(11, ModelFile.Open(renamed, ModelFormat.Safetensors).Tensors.Length);

        // Other JSON is not an index, and the error says what one looks like.
        File.WriteAllText(renamed, """{"architectures": ["Net"]}""");
        var e = Assert.Throws<ModelFormatException>(() => ModelFile.Open(renamed, ModelFormat.Safetensors));
        Assert.Contains("has no \"weight_map\" object", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AShardOpenedAloneSaysToOpenTheIndex()
    {
        var shard = ModelFile.Open(Multipart($"sharded/{MultiPartModels.ShardName(0, 3)}"));
        var e = Assert.Throws<ModelFormatException>(() => shard.Find("conv2.weight"));
        Assert.Contains("one shard of a sharded model", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ATotalSizeThatDiffersIsAcceptedAndLinksInsideTheFolderAreFollowed()
    {
        var tensors = ModelFile.Open(Multipart(Index)).ReadAll();
        var folder = MultiPartModels.NewFolder(root);
        var index = MultiPartModels.WriteSharded(folder, tensors);
        File.WriteAllText(index, File.ReadAllText(index).Replace("\"total_size\": 1904", "\"total_size\": 99", StringComparison.Ordinal));
        var second = MultiPartModels.ShardName(1, 2);
        Directory.CreateDirectory(Path.Combine(folder, "store"));
        File.Move(Path.Combine(folder, second), Path.Combine(folder, "store", second));
        File.CreateSymbolicLink(Path.Combine(folder, second), Path.Combine("store", second));
        var model = ModelFile.Open(index);
        Assert.Equal(tensors.Select(t => t.Name).Order(StringComparer.Ordinal), model.Tensors.Select(t => t.Name));
        Assert.Equal(tensors[^1].Data.ToArray(), model.ReadBytes(model.Find(tensors[^1].Name)));
        Assert.Equal(Path.Combine(folder, second), model.Parts[2]);
    }

    [Fact]
    public void ALinkedFolderLeadingOutIsRefusedAndEveryReadChecksAgain()
    {
        var tensors = ModelFile.Open(Multipart(Index)).ReadAll();
        var folder = MultiPartModels.NewFolder(root);
        var outside = Path.GetFullPath(Path.Combine(folder, "..", "outside"));
        var model = MultiPartModels.WriteExternalOnnx(folder, tensors, externalData: e => [.. e.Select(p => p.Key == "location" ? (p.Key, $"sub/{MultiPartModels.DataFile}") : p)]);
        File.Move(Path.Combine(folder, MultiPartModels.DataFile), Path.Combine(outside, MultiPartModels.DataFile));
        Directory.CreateSymbolicLink(Path.Combine(folder, "sub"), outside);
        var e = Assert.Throws<ModelFormatException>(() => ModelFile.Open(model));
        Assert.Contains("outside the model's folder", e.Message, StringComparison.Ordinal);

        // Opened while the folder was real, then swapped for a link leading out: the next read refuses.
        Directory.Delete(Path.Combine(folder, "sub"));
        Directory.CreateDirectory(Path.Combine(folder, "sub"));
        File.Copy(Path.Combine(outside, MultiPartModels.DataFile), Path.Combine(folder, "sub", MultiPartModels.DataFile));
        var opened = ModelFile.Open(model);
        Assert.Equal(tensors[0].Data.ToArray(), opened.ReadBytes(opened.Find(tensors[0].Name)));
        Directory.Delete(Path.Combine(folder, "sub"), recursive: true);
        Directory.CreateSymbolicLink(Path.Combine(folder, "sub"), outside);
        var later = Assert.Throws<ModelFormatException>(() => opened.ReadBytes(opened.Find(tensors[0].Name)));
        Assert.Contains("outside the model's folder", later.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(HostileCases))]
    public void HostileLayoutsAreRefusedNamingTheProblem(string name)
    {
        var tensors = ModelFile.Open(Multipart(Index)).ReadAll();
        var path = MultiPartModels.MakeHostile(name, root, tensors);
        var e = Assert.Throws<ModelFormatException>(() => ModelFile.Open(path));
        Assert.Contains(MultiPartModels.Hostile[name], e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheSameHostileLayoutsWithoutTheFlawAreRead()
    {
        var tensors = ModelFile.Open(Multipart(Index)).ReadAll();
        var sharded = ModelFile.Open(MultiPartModels.WriteSharded(MultiPartModels.NewFolder(root), tensors, shards: 3));
        var onnx = ModelFile.Open(MultiPartModels.WriteExternalOnnx(MultiPartModels.NewFolder(root), tensors));
        var perTensor = ModelFile.Open(MultiPartModels.WriteExternalOnnx(MultiPartModels.NewFolder(root), tensors, oneFile: false));
        foreach (var model in new[] { sharded, onnx, perTensor })
        {
            Assert.Equal(tensors.Select(t => t.Data.ToArray()), tensors.Select(t => model.ReadBytes(model.Find(t.Name))));
        }

        Assert.Equal(4, sharded.Parts.Length);
        Assert.Equal(2, onnx.Parts.Length);
        Assert.Equal(tensors.Count + 1, perTensor.Parts.Length);
    }

    [Theory]
    [InlineData("offset", "-4", "not a whole number of bytes")]
    [InlineData("length", "12", "external_data spans 12 bytes")]
    [InlineData("location", "", "an empty path")]
    [InlineData("location", "a\\b.data", "backslash")]
    public void MalformedExternalDataEntriesAreRefused(string key, string value, string expected)
    {
        var tensors = ModelFile.Open(Multipart(Index)).ReadAll();
        var path = MultiPartModels.WriteExternalOnnx(MultiPartModels.NewFolder(root), tensors, externalData: e => [.. e.Select(p => p.Key == key ? (p.Key, value) : p)]);
        var e = Assert.Throws<ModelFormatException>(() => ModelFile.Open(path));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.Equal(path, e.FilePath);
    }

    private static string Multipart(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    private static IEnumerable<JsonProperty> ExpectedModels()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Multipart("multipart-expected.json")));
        return [.. document.RootElement.GetProperty("files").Clone().EnumerateObject()];
    }

    private string CopyFixture(string folder)
    {
        var copy = Path.Combine(root, $"{folder}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(copy);
        foreach (var file in Directory.GetFiles(Multipart(folder)))
        {
            File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        }

        return copy;
    }
}
