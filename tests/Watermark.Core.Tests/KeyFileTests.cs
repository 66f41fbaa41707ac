using System;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json.Nodes;
using Xunit;

namespace Watermark.Tests;

public sealed class KeyFileTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("wmk-keys-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private string PathOf(string name) => Path.Combine(folder, name);

    private static Keyring Sample() => new(
        WatermarkKey.Create("g2.block0.conv2.weight", [64, 64, 3, 3], 256, KeyKind.Random, Message.FromText("ACME Corp"), 0.01, null, false, TestSeeds.Numbered(1)),
        WatermarkKey.Create("g3.block0.conv2.weight", [128, 128, 3, 3], 512, KeyKind.Diff, Message.FromBytes([0xde, 0xad, 0xbe, 0xef]), 0.05, null, false, TestSeeds.Numbered(2)),
        WatermarkKey.Create("fc.weight", [10, 256], 64, KeyKind.Direct, Message.AllOnes, 0.01, null, false, TestSeeds.Numbered(3)));

    private string Saved()
    {
        var path = PathOf("key.json");
        Sample().Save(path, overwrite: true);
        return path;
    }

    [Fact]
    public void RoundTripKeepsEverySlotAndItsDerivedKey()
    {
        var original = Sample();
        var loaded = Keyring.Load(Saved());
        Assert.Equal(original.Slots.Length, loaded.Slots.Length);
        foreach (var (a, b) in original.Slots.Zip(loaded.Slots))
        {
            Assert.Equal(a.Parameter, b.Parameter);
            Assert.Equal(a.Shape.ToArray(), b.Shape.ToArray());
            Assert.Equal(a.Bits, b.Bits);
            Assert.Equal(a.Kind, b.Kind);
            Assert.Equal(a.Strength, b.Strength);
            Assert.Equal(a.Message, b.Message);
            Assert.Equal(a.Whitening, b.Whitening);
            Assert.True(a.ProjectionMatrix().Span.SequenceEqual(b.ProjectionMatrix().Span));
            Assert.True(a.TargetBits().SequenceEqual(b.TargetBits()));
        }
    }

    [Fact]
    public void FileIsOwnerOnlyAndWrittenWithoutLeftovers()
    {
        var path = Saved();
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }

        Sample().Save(path, overwrite: true); // replace in place
        Assert.Equal(["key.json"], Directory.GetFiles(folder).Select(Path.GetFileName));
    }

    [Fact]
    public void FailedWriteLeavesThePreviousFileIntact()
    {
        var path = Saved();
        var before = File.ReadAllBytes(path);
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[10]);
            throw new InvalidOperationException("crash mid-write");
        }));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(folder));
    }

    private KeyFileException LoadBroken(Action<JsonObject> edit)
    {
        var json = JsonNode.Parse(File.ReadAllText(Saved()))!.AsObject();
        edit(json);
        var path = PathOf("broken.json");
        KeyFiles.WriteOwnerOnly(path, Encoding.UTF8.GetBytes(json.ToJsonString()));
        return Assert.Throws<KeyFileException>(() => Keyring.Load(path));
    }

    private static JsonObject Slot(JsonObject root, int i = 0) => root["slots"]![i]!.AsObject();

    [Fact]
    public void TruncatedFileIsRefused()
    {
        var path = Saved();
        var bytes = File.ReadAllBytes(path);
        foreach (var length in new[] { 0, 1, bytes.Length / 3, bytes.Length / 2, bytes.Length - 2 })
        {
            File.WriteAllBytes(path, bytes[..length]);
            var e = Assert.Throws<KeyFileException>(() => Keyring.Load(path));
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
            Assert.Contains("not valid JSON", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void MissingFileIsNamed()
    {
        var e = Assert.Throws<KeyFileException>(() => Keyring.Load(PathOf("nope.json")));
        Assert.Contains("nope.json", e.Message, StringComparison.Ordinal);
        Assert.Contains("not found", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownVersionIsRefused()
    {
        var e = LoadBroken(j => j["version"] = 2);
        Assert.Equal("version", e.Field);
        Assert.Contains("version 2 is not supported", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WrongFormatIsRefused() => Assert.Equal("format", LoadBroken(j => j["format"] = "something-else").Field);

    [Fact]
    public void ShapeThatDisagreesWithMIsRefused()
    {
        var e = LoadBroken(j => Slot(j)["shape"] = new JsonArray(64, 32, 3, 3));
        Assert.Equal("slots[0].filterMeanLength", e.Field);
        Assert.Contains("M = 288", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[64]")]
    [InlineData("[64, 0, 3, 3]")]
    [InlineData("[64, -64, 3, 3]")]
    [InlineData("[64, 64.5, 3, 3]")]
    [InlineData("\"64,64,3,3\"")]
    [InlineData("[1, 2, 3, 4, 5, 6]")]
    public void MalformedShapeIsRefused(string shape) =>
        Assert.Equal("slots[0].shape", LoadBroken(j => Slot(j)["shape"] = JsonNode.Parse(shape)).Field);

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("2.5")]
    [InlineData("\"256\"")]
    [InlineData("1e40")]
    public void NonPositiveOrMalformedBitsAreRefused(string bits) =>
        Assert.Equal("slots[0].bits", LoadBroken(j => Slot(j)["bits"] = JsonNode.Parse(bits)).Field);

    [Fact]
    public void MessageLongerThanTheSlotIsRefused() =>
        Assert.Equal("slots[0].message", LoadBroken(j => Slot(j)["bits"] = 8).Field);

    [Theory]
    [InlineData("kind", "\"gaussian\"")]
    [InlineData("strength", "0")]
    [InlineData("strength", "-1")]
    [InlineData("whitening", "\"xor\"")]
    [InlineData("derivation", "\"chacha20-v2\"")]
    [InlineData("parameter", "\"\"")]
    [InlineData("parameter", "42")]
    public void BadFieldsAreNamed(string field, string value) =>
        Assert.Equal($"slots[0].{field}", LoadBroken(j => Slot(j)[field] = JsonNode.Parse(value)).Field);

    [Fact]
    public void UnknownAndMissingFieldsAreNamed()
    {
        Assert.Equal("slots[1].colour", LoadBroken(j => Slot(j, 1)["colour"] = "red").Field);
        Assert.Equal("slots[2].seed", LoadBroken(j => Slot(j, 2).Remove("seed")).Field);
        Assert.Equal("slots", LoadBroken(j => j["slots"] = new JsonArray()).Field);
    }

    [Theory]
    [InlineData("00")]
    [InlineData("zz00000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("000000000000000000000000000000000000000000000000000000000000000000")]
    public void BadSeedIsRefusedWithoutEchoingIt(string seed)
    {
        var e = LoadBroken(j => Slot(j)["seed"] = seed);
        Assert.Equal("slots[0].seed", e.Field);
        Assert.DoesNotContain(seed, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ErrorsNeverContainTheSecret()
    {
        var path = Saved();
        var text = File.ReadAllText(path);
        var seeds = JsonNode.Parse(text)!["slots"]!.AsArray().Select(s => (string)s!["seed"]!).ToArray();
        File.WriteAllText(path, text.Replace("\"random\"", "\"gaussian\"", StringComparison.Ordinal));
        var e = Assert.Throws<KeyFileException>(() => Keyring.Load(path));
        Assert.All(seeds, s => Assert.DoesNotContain(s, e.Message, StringComparison.Ordinal));
        Assert.All(Sample().Slots, s => Assert.DoesNotContain(s.Seed.ToHex(), s.ToString(), StringComparison.Ordinal));
    }

    [Fact]
    public void DuplicateSlotsAreRefused()
    {
        var e = LoadBroken(j => Slot(j, 1)["parameter"] = (string)Slot(j, 0)["parameter"]!);
        Assert.Equal("slots", e.Field);
    }

    [Fact]
    public void InvalidUtf8AndAbsurdSizesAreKeyFileErrors()
    {
        var path = Saved();
        var bytes = File.ReadAllBytes(path);
        var at = Encoding.UTF8.GetString(bytes).IndexOf("ACME", StringComparison.Ordinal);
        bytes[at] = 0xC3; // a lead byte without its continuation, inside a string
        File.WriteAllBytes(path, bytes);
        Assert.Contains("UTF-8", Assert.Throws<KeyFileException>(() => Keyring.Load(path)).Message, StringComparison.Ordinal);

        Assert.Equal("slots[0].bits", LoadBroken(j => Slot(j)["bits"] = 1_000_000_000).Field);
        Assert.Throws<ArgumentOutOfRangeException>(() => WatermarkKey.Create("w", [2, 1 << 20], 1 << 10, allowOverCapacity: true));
    }

    [Fact]
    public void AByteOrderMarkIsAccepted()
    {
        var path = Saved();
        File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. File.ReadAllBytes(path)]);
        Assert.Equal(3, Keyring.Load(path).Slots.Length);
    }

    [Fact]
    public void StoredTextIsTakenAsItIsWithoutNormalisingAgain()
    {
        // A key made where normalisation is a no-op (the CLI runs with invariant globalization) stores
        // "e" + U+0301; reading it back must keep those bytes, or the bits would differ.
        var path = Saved();
        File.WriteAllText(path, File.ReadAllText(path).Replace("ACME Corp", "e\u0301", StringComparison.Ordinal));
        var message = Keyring.Load(path).Slots[0].Message;
        Assert.Equal(new byte[] { 0x65, 0xCC, 0x81 }, message.Bytes.ToArray());
    }

    [Fact]
    public void GarbageAndHugeFilesAreRefused()
    {
        var path = PathOf("garbage.json");
        KeyFiles.WriteOwnerOnly(path, Encoding.UTF8.GetBytes("{\"format\": \"torchsharp-watermark-key\"} trailing"));
        Assert.Throws<KeyFileException>(() => Keyring.Load(path));
        File.WriteAllBytes(path, [0xff, 0xfe, 0x00, 0x01]);
        Assert.Throws<KeyFileException>(() => Keyring.Load(path));
        File.WriteAllText(path, new string('[', 10_000));
        Assert.Throws<KeyFileException>(() => Keyring.Load(path));
        using (var stream = File.Create(path))
        {
            stream.SetLength(17 << 20);
        }

        Assert.Contains("more than", Assert.Throws<KeyFileException>(() => Keyring.Load(path)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"ACME Corp\"", "\"\\ud800\"")]
    [InlineData("\"seed\"", "\"se\\udc00ed\"")]
    [InlineData("\"fc.weight\"", "\"fc.\\ud83d\"")]
    public void ALoneSurrogateEscapeInAnyFieldIsAKeyFileError(string original, string replacement)
    {
        var text = File.ReadAllText(Saved());
        Assert.Contains(original, text, StringComparison.Ordinal);
        var e = Assert.Throws<KeyFileException>(() => Keyring.Parse(Encoding.UTF8.GetBytes(text.Replace(original, replacement, StringComparison.Ordinal)), "k.json"));
        Assert.Contains("lone UTF-16 surrogate", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"version\": 1,", "\"version\": 2, \"version\": 1,")]
    [InlineData("\"strength\": 0.01,", "\"strength\": 0.01, \"strength\": 0.5,")]
    public void RepeatedKeysAreRefusedNotResolvedByTheLastOne(string original, string replacement)
    {
        var text = File.ReadAllText(Saved());
        var e = Assert.Throws<KeyFileException>(() => Keyring.Parse(Encoding.UTF8.GetBytes(text.Replace(original, replacement, StringComparison.Ordinal)), "k.json"));
        Assert.Contains("appears twice", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AKeyFileReadableByOthersIsRefusedLikeAnSshKey()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var path = Saved();
        File.SetUnixFileMode(path, File.GetUnixFileMode(path) | UnixFileMode.GroupRead);
        var e = Assert.Throws<KeyFileException>(() => Keyring.Load(path));
        Assert.Contains($"chmod 600 {path}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void KeysAndKeyringsBeyondTheLimitsAreRefused()
    {
        // T = 2^20 on M = 256 was allowed: 1 GB and 20-30 s to derive a slot.
        Assert.Equal("slots[0].bits", LoadBroken(j => Slot(j)["bits"] = 1 << 20).Field);
        Assert.Throws<ArgumentOutOfRangeException>(() => WatermarkKey.Create("w", [2, 1 << 16], 1 << 9, allowOverCapacity: true));
        var big = Enumerable.Range(0, 5).Select(i => WatermarkKey.Create($"w{i}", [2, 1 << 16], 255, allowOverCapacity: true));
        Assert.Throws<ArgumentException>(() => new Keyring(big));
    }

    [Fact]
    public void ACodeIsSavedAndReadBackAndTamperingWithItIsRefused()
    {
        var message = Message.FromText("(c) ACME Vision 2026");
        var key = WatermarkKey.Create("g2.block0.conv2.weight", [64, 64, 3, 3], 256, KeyKind.Random, message, 0.01, null, false, TestSeeds.Numbered(7), BchCode.Choose(message.BitLength, 256));
        var path = PathOf("coded.json");
        new Keyring(key).Save(path);
        var loaded = Keyring.Load(path).Slots[0];
        Assert.Equal(key.Code, loaded.Code);
        Assert.Equal(12, loaded.Code!.CorrectableErrors);
        Assert.True(key.TargetBits().SequenceEqual(loaded.TargetBits()));
        Assert.False(key.TargetBits().SequenceEqual(WatermarkKey.Create(key.Parameter, [64, 64, 3, 3], 256, KeyKind.Random, message, 0.01, null, false, TestSeeds.Numbered(7)).TargetBits()));

        var text = File.ReadAllText(path);
        foreach (var (from, to, field) in new[]
        {
            ("\"t\": 12", "\"t\": 11", "slots[0].code"),
            ("\"n\": 252", "\"n\": 251", "slots[0].code"),
            ("\"k\": 160", "\"k\": 152", "slots[0].code"),
            ("\"m\": 8", "\"m\": 13", "slots[0].code"),
            ("\"scheme\": \"bch-v1\"", "\"scheme\": \"rs-v1\"", "slots[0].code.scheme"),
        })
        {
            Assert.Contains(from, text, StringComparison.Ordinal);
            var e = Assert.Throws<KeyFileException>(() => Keyring.Parse(Encoding.UTF8.GetBytes(text.Replace(from, to, StringComparison.Ordinal)), "k.json"));
            Assert.Equal(field, e.Field);
        }
    }
}
