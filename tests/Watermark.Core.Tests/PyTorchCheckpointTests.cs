using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text.Json;
using Watermark.Formats;
using Watermark.Formats.Pickle;
using Xunit;
using static Watermark.Tests.TorchFiles;

namespace Watermark.Tests;

/// <summary>
/// torch.save checkpoints: the fixtures written by real PyTorch (eng/fixtures/make_pytorch_fixtures.py)
/// read as PyTorch says they hold, and hostile pickles end in <see cref="ModelFormatException"/> naming
/// what was refused, with nothing run.
/// </summary>
public class PyTorchCheckpointTests
{
    public static TheoryData<string> Expected() => [.. ExpectedFiles().Select(p => p.Name)];

    [Theory]
    [MemberData(nameof(Expected))]
    public void EveryFixtureReadsAsPyTorchSays(string key)
    {
        var expected = ExpectedFiles().Single(p => p.Name == key).Value;
        var path = Fixture(key.Split('#')[0]);
        var file = ModelFile.Open(path);
        Assert.Equal(ModelFormat.PyTorchCheckpoint, file.Format);
        AssertHoldsWhatTorchSays(file, expected);
    }

    [Fact]
    public void FixturesCoverWhatTheIssueAsksFor()
    {
        var files = ExpectedFiles().ToDictionary(p => p.Name, p => p.Value);
        Assert.Equal([8, 4, 3, 3], files["plain.pt"].GetProperty("tensors").GetProperty("conv2.weight").GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()));
        Assert.Equal("float16", Dtype(files["half.bin"], "conv2.weight"));
        Assert.Equal("bfloat16", Dtype(files["bfloat16.pt"], "conv2.weight"));
        Assert.Equal("int64", Dtype(files["plain.pt"], "bn1.num_batches_tracked"));
        Assert.Equal("float64", Dtype(files["views.pt"], "double"));
        foreach (var file in Directory.GetFiles(Fixture(string.Empty)))
        {
            Assert.InRange(new FileInfo(file).Length, 1, 100_000);
        }

        static string? Dtype(JsonElement file, string name) => file.GetProperty("tensors").GetProperty(name).GetProperty("dtype").GetString();
    }

    [Fact]
    public void NamesOfDataParallelSavesAndNestedCheckpointsAreTheModelsOwn()
    {
        // DataParallel: every name starts with "module.", which is dropped.
        Assert.Equal([8L, 4, 3, 3], ModelFile.Open(Fixture("dataparallel.pth")).Find("conv2.weight").Shape.ToArray());
        // {"model": …, "optimizer": …, "epoch": 3}: the model's dict; the optimizer's tensors are not listed.
        var training = ModelFile.Open(Fixture("training.ckpt"));
        Assert.Equal(ModelFile.Open(Fixture("plain.pt")).Tensors.Select(t => t.Name), training.Tensors.Select(t => t.Name));
        // One prefix not shared by every name is kept.
        var pickle = Pickle(Dict(("module.a", Tensor("FloatStorage", "0", 1, 0, [1], [1])), ("b", Tensor("FloatStorage", "0", 1, 0, [1], [1]))));
        Assert.Equal(["module.a", "b"], ModelFile.Read(Checkpoint(pickle, ("0", new byte[4])), "x.pt").Tensors.Select(t => t.Name));
    }

    [Fact]
    public void SeveralDictsOfTensorsPreferStateDictThenModelAndOtherwiseAreRefused()
    {
        var a = Dict(("w", Tensor("FloatStorage", "0", 1, 0, [1], [1])));
        var b = Dict(("v", Tensor("FloatStorage", "0", 1, 0, [1], [1])));
        Assert.Equal("w", ModelFile.Read(Checkpoint(Pickle(Dict(("ema", b), ("model", a))), ("0", new byte[4])), "x.pt").Tensors.Single().Name);
        Assert.Equal("v", ModelFile.Read(Checkpoint(Pickle(Dict(("model", a), ("state_dict", b))), ("0", new byte[4])), "x.pt").Tensors.Single().Name);
        var error = Refused(Checkpoint(Pickle(Dict(("ema", b), ("teacher", a))), ("0", new byte[4])));
        Assert.Contains("several dicts of tensors ('ema', 'teacher')", error, StringComparison.Ordinal);
    }

    [Fact]
    public void ViewsAreReadThroughTheirStridesInRowMajorOrder()
    {
        // A [2, 3] view with storage offset 1 and strides [1, 2] of a 7-element storage: the transpose of a [3, 2] slice.
        var storage = Floats(0, 1, 2, 3, 4, 5, 6);
        var file = ModelFile.Read(Checkpoint(Pickle(Dict(("t", Tensor("FloatStorage", "0", 7, 1, [2, 3], [1, 2])))), ("0", storage)), "x.pt");
        Assert.Equal([1f, 3, 5, 2, 4, 6], file.ReadFloat32(file.Find("t")));
        // An empty tensor, and one that overlaps itself (which could turn a few bytes of file into gigabytes read).
        file = ModelFile.Read(Checkpoint(Pickle(Dict(("z", Tensor("FloatStorage", "0", 7, 0, [0, 3], [3, 1])))), ("0", storage)), "x.pt");
        Assert.Empty(file.ReadFloat32(file.Find("z")));
        var expanded = Tensor("FloatStorage", "0", 7, 6, [1 << 28, 4], [0, 0]);
        Assert.Contains("repeats elements of its storage", Refused(Checkpoint(Pickle(Dict(("e", expanded))), ("0", storage))), StringComparison.Ordinal);
    }

    [Fact]
    public void DetectionIsByContentSoBinFilesOfEitherKindAreRead()
    {
        var zip = File.ReadAllBytes(Fixture("half.bin"));
        Assert.Equal(ModelFormat.PyTorchCheckpoint, ModelFile.Detect("pytorch_model.bin", zip.AsSpan(0, 9), zip.Length));
        Assert.Equal(ModelFormat.PyTorchCheckpoint, ModelFile.Read(zip, "pytorch_model.bin").Format);
        Assert.Equal(ModelFormat.TorchSharpDat, ModelFile.Detect("model.bin", [1, 1, (byte)'w'], 100));
        Assert.Equal(ModelFormat.PyTorchCheckpoint, ModelFile.FormatFromExtension("model.pth"));
        Assert.Equal(ModelFormat.PyTorchCheckpoint, ModelFile.FormatFromExtension("last.ckpt"));
        Assert.Equal("PyTorch checkpoint", ModelFile.FormatName(ModelFormat.PyTorchCheckpoint));
        // A .pt that is not a zip, and a zip that is not a checkpoint.
        // (As before PyTorch was read, a .pt that is no known format says "unknown format" and how to name one: VerifyTests in the CLI checks that.)
        var unknown = Refused([0x80, 0x02, 0x7D, 0x71]);
        Assert.Contains("unknown format", unknown, StringComparison.Ordinal);
        Assert.Contains("does not start with one", unknown, StringComparison.Ordinal);
        Assert.Contains("--format", unknown, StringComparison.Ordinal);
        Assert.Contains("without ARCHIVE/data.pkl", Refused(Zip([("a/readme.txt", "hi"u8.ToArray())])), StringComparison.Ordinal);
    }

    [Fact]
    public void ThePickledOsSystemOfAReducePayloadIsRefusedByName()
    {
        // What torch.save writes for an object whose __reduce__ returns (os.system, ('echo pwned',)): on Linux os.system is posix.system.
        var error = Assert.Throws<ModelFormatException>(() => ModelFile.Open(Fixture("malicious_reduce.pt"))).Message;
        Assert.Contains("refuses to run pickle global 'posix.system'", error, StringComparison.Ordinal);
        Assert.Contains("nothing was run", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("os", "system")]
    [InlineData("builtins", "eval")]
    [InlineData("__builtin__", "getattr")]
    [InlineData("subprocess", "Popen")]
    [InlineData("torch", "load")]
    [InlineData("__main__", "Net")]
    public void EveryGlobalOutsideTheAllowListIsRefusedBeforeAnythingElse(string module, string name)
    {
        var marker = Path.Combine(Path.GetTempPath(), $"wmk-pwned-{Guid.NewGuid():N}");
        // GLOBAL module name, ('touch MARKER',), REDUCE — as protocol 2 writes it.
        var pickle = Pickle($"c{module}\n{name}\n", Str($"touch {marker}"), 0x85, 'R');
        var error = Refused(Checkpoint(pickle));
        Assert.Contains($"refuses to run pickle global '{module}.{name}'", error, StringComparison.Ordinal);
        // The same through protocol 4's STACK_GLOBAL.
        error = Refused(Checkpoint(Pickle(Str(module), Str(name), 0x93, Str("x"), 0x85, 'R')));
        Assert.Contains($"'{module}.{name}'", error, StringComparison.Ordinal);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public void AllowedGlobalsCannotBeCalledOtherThanAStateDictDoes()
    {
        Assert.Contains("calls 'torch.FloatStorage'", Refused(Checkpoint(Pickle("ctorch\nFloatStorage\n", ')', 'R'))), StringComparison.Ordinal);
        Assert.Contains("with NEWOBJ", Refused(Checkpoint(Pickle("ctorch._utils\n_rebuild_tensor_v2\n", ')', 0x81))), StringComparison.Ordinal);
        Assert.Contains("calls 'torch._utils._rebuild_tensor_v2' at byte", Refused(Checkpoint(Pickle("ctorch._utils\n_rebuild_tensor_v2\n", Ints(1, 2, 3, 4, 5, 6), 'R'))), StringComparison.Ordinal);
        Assert.Contains("with BUILD", Refused(Checkpoint(Pickle(Str("s"), '}', 'b'))), StringComparison.Ordinal);
        Assert.Contains("persistent id", Refused(Checkpoint(Pickle(Str("storage"), 0x85, 'Q'))), StringComparison.Ordinal);
        Assert.Contains("opcode 0x69 ('i')", Refused(Checkpoint(Pickle('(', "ios\nsystem\n"))), StringComparison.Ordinal);
    }

    [Fact]
    public void LengthsAndNestingAreBoundedBeforeAnythingIsAllocated()
    {
        Assert.Contains("declares a string of 4294967295 bytes", Refused(Checkpoint(Pickle('X', new byte[] { 0xFF, 0xFF, 0xFF, 0xFF }))), StringComparison.Ordinal);
        Assert.Contains("declares a string of 9223372036854775807 bytes", Refused(Checkpoint(Pickle(0x8d, BitConverter.GetBytes(long.MaxValue)))), StringComparison.Ordinal);
        Assert.Contains("declares 4294967295 bytes", Refused(Checkpoint(Pickle('B', new byte[] { 0xFF, 0xFF, 0xFF, 0xFF }))), StringComparison.Ordinal);
        Assert.Contains($"nests more than {RestrictedUnpickler.MaxMarkDepth} MARKs", Refused(Checkpoint(Pickle(new string('(', 1000)))), StringComparison.Ordinal);
        Assert.Contains($"more than {RestrictedUnpickler.MaxStack} values on its stack", Refused(Checkpoint(Pickle(new string('N', RestrictedUnpickler.MaxStack + 1)))), StringComparison.Ordinal);
        // Deeply nested tuples without marks are no state_dict (and nothing walks them recursively).
        Assert.Contains("rather than a dict", Refused(Checkpoint(Pickle(')', Enumerable.Repeat((byte)0x85, 200_000).ToArray()))), StringComparison.Ordinal);
        Assert.Contains("memo entry 7", Refused(Checkpoint(Pickle('h', (byte)7))), StringComparison.Ordinal);
        Assert.Contains("before the pickle's STOP", Refused(Checkpoint([0x80, 0x02, (byte)'}'])), StringComparison.Ordinal);
        Assert.Contains("after the pickle's STOP", Refused(Checkpoint([.. Pickle('}'), 0])), StringComparison.Ordinal);
    }

    [Fact]
    public void StoragesMustExistAndHoldWhatTheTensorsNeed()
    {
        var tensor = Tensor("FloatStorage", "5", 6, 0, [2, 3], [3, 1]);
        Assert.Contains("refers to storage '5', but the archive has no member 'archive/data/5'", Refused(Checkpoint(Pickle(Dict(("w", tensor))))), StringComparison.Ordinal);
        // The pickle says 6 floats; the member holds 5.
        Assert.Contains("storage '5' (of tensor 'w') is 20 bytes in the archive, but the pickle says 6 elements of float32", Refused(Checkpoint(Pickle(Dict(("w", tensor))), ("5", new byte[20]))), StringComparison.Ordinal);
        // The view needs elements 0..6 of a 6-element storage.
        var beyond = Tensor("FloatStorage", "0", 6, 1, [2, 3], [3, 1]);
        Assert.Contains("needs more than the 6 elements of storage '0'", Refused(Checkpoint(Pickle(Dict(("w", beyond))), ("0", new byte[24]))), StringComparison.Ordinal);
        var strided = Tensor("FloatStorage", "0", 6, 0, [2, 3], [4, 1]);
        Assert.Contains("storage is too short", Refused(Checkpoint(Pickle(Dict(("w", strided))), ("0", new byte[24]))), StringComparison.Ordinal);
        // One key, two descriptions.
        var other = Tensor("HalfStorage", "5", 6, 0, [6], [1]);
        Assert.Contains("describes storage '5' twice", Refused(Checkpoint(Pickle(Dict(("a", tensor), ("b", other))), ("5", new byte[24]))), StringComparison.Ordinal);
        Assert.Contains("names a storage '../x'", Refused(Checkpoint(Pickle(Dict(("w", Tensor("FloatStorage", "../x", 6, 0, [6], [1])))))), StringComparison.Ordinal);
    }

    [Fact]
    public void ArchivesThatTwoZipReadersCouldSeeDifferentlyAreRefused()
    {
        var pickle = Pickle(Dict(("w", Tensor("FloatStorage", "0", 1, 0, [1], [1]))));
        Assert.Contains("two members named 'archive/data/0'", Refused(Zip([("archive/data.pkl", pickle), ("archive/data/0", new byte[4]), ("archive/data/0", new byte[4])])), StringComparison.Ordinal);
        Assert.Contains("2 data.pkl members", Refused(Zip([("a/data.pkl", pickle), ("b/data.pkl", pickle)])), StringComparison.Ordinal);
        Assert.Contains("compressed (method 8)", Refused(Zip([("archive/data.pkl", pickle), ("archive/data/0", new byte[4])], method: 8)), StringComparison.Ordinal);
        var truncated = Checkpoint(pickle, ("0", new byte[4]));
        Assert.Contains("no end-of-central-directory record", Refused(truncated[..^30]), StringComparison.Ordinal);
        Assert.Contains("big", Refused(Zip([("archive/data.pkl", pickle), ("archive/byteorder", "big"u8.ToArray()), ("archive/data/0", new byte[4])])), StringComparison.Ordinal);
    }

    [Fact]
    public void TheLegacyFormatIsRefusedWithTheWayOut()
    {
        var error = Assert.Throws<ModelFormatException>(() => ModelFile.Open(Fixture("legacy.pt"))).Message;
        Assert.Contains("_use_new_zipfile_serialization=False", error, StringComparison.Ordinal);
        Assert.Contains("PyTorch ≥ 1.6", error, StringComparison.Ordinal);
    }

    [Fact]
    public void ReplacingAHostKeepsTheArchiveValidForZipReaders()
    {
        var source = ModelFile.Open(Fixture("plain.pt"));
        var host = source.Find("conv2.weight");
        var values = source.ReadFloat32(host).Select(v => v * 2).ToArray();
        var path = Path.Combine(Path.GetTempPath(), $"wmk-{Guid.NewGuid():N}.pt");
        try
        {
            source.WriteWithReplaced(path, host, values);
            var copy = ModelFile.Open(path);
            Assert.Equal(values, copy.ReadFloat32(copy.Find("conv2.weight")));
            Assert.Equal(source.ReadFloat32(source.Find("conv1.weight")), copy.ReadFloat32(copy.Find("conv1.weight")));
            // Every member's CRC-32 (central directory) matches its bytes, in the original (torch's CRCs check the CRC code) and in the copy.
            foreach (var file in new[] { Fixture("plain.pt"), path })
            {
                using var zip = ZipFile.OpenRead(file);
                foreach (var entry in zip.Entries)
                {
                    using var stream = entry.Open();
                    var bytes = new MemoryStream();
                    stream.CopyTo(bytes);
                    Assert.Equal(entry.Crc32, Crc32.Compute(bytes.ToArray()));
                }
            }

            Assert.Throws<ArgumentException>(() => ModelFile.Write(path, ModelFormat.PyTorchCheckpoint, source.ReadAll(), replace: true));
            var views = ModelFile.Open(Fixture("views.pt"));
            Assert.Contains("strided view", Assert.Throws<ArgumentException>(() => views.WriteWithReplaced(path, views.Find("fc.weight"), new float[80], replace: true)).Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static string Refused(byte[] content) =>
        Assert.Throws<ModelFormatException>(() =>
        {
            var file = ModelFile.Read(content, "x.pt");
            foreach (var entry in file.Tensors)
            {
                file.ReadBytes(entry);
            }
        }).Message;

    private static IEnumerable<JsonProperty> ExpectedFiles()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Fixture("expected.json")));
        return [.. document.RootElement.GetProperty("files").Clone().EnumerateObject()];
    }
}
