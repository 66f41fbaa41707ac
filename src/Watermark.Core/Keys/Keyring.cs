using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;

namespace Watermark;

/// <summary>
/// The content of a key file: the slots that carry a mark. Format: docs/key-file.md (JSON, version 1).
/// Saved atomically with owner-only permissions; loaded with strict validation.
/// </summary>
public sealed class Keyring
{
    /// <summary>The value of the key file's <c>format</c> field.</summary>
    public const string FormatName = "torchsharp-watermark-key";

    /// <summary>The key-file version this library writes and reads.</summary>
    public const int CurrentVersion = 1;

    private const string DerivationV1 = "chacha20-v1";
    private const string BchScheme = "bch-v1";
    private const int MaxFileBytes = 16 << 20;
    private const int MaxDepth = 8;

    /// <summary>
    /// The most bits a slot may carry, the most entries of one slot's X (T·M; 64 MiB of float32, about a
    /// second to derive on one core) and of all slots of a key file together: far above any real mark
    /// (256 bits over a VGG fc layer's 25,088 inputs is 6.4 M entries), far below what would exhaust a small machine.
    /// </summary>
    internal const int MaxBits = 1 << 16;
    internal const long MaxKeyEntries = 1L << 24;
    internal const long MaxKeyringEntries = 1L << 26;

    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    /// <summary>Creates a keyring; parameters must be distinct.</summary>
    public Keyring(IEnumerable<WatermarkKey> slots)
    {
        ArgumentNullException.ThrowIfNull(slots);
        Slots = [.. slots];
        var duplicate = Slots.GroupBy(s => s.Parameter, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException($"Parameter '{duplicate.Key}' appears in {duplicate.Count()} slots; a keyring holds one key per parameter.", nameof(slots));
        }

        var entries = Slots.Sum(s => (long)s.Bits * s.FilterMeanLength);
        if (entries > MaxKeyringEntries)
        {
            throw new ArgumentException($"The {Slots.Length} slots' keys have {entries} entries together; at most {MaxKeyringEntries} are supported in one key file.", nameof(slots));
        }
    }

    /// <summary>Creates a keyring of the given slots.</summary>
    public Keyring(params WatermarkKey[] slots)
        : this((IEnumerable<WatermarkKey>)slots)
    {
    }

    /// <summary>The slots, in file order.</summary>
    public ImmutableArray<WatermarkKey> Slots { get; }

    /// <summary>The slot of a parameter, or null when the keyring does not mark it.</summary>
    public WatermarkKey? Find(string parameter) => Slots.FirstOrDefault(s => s.Parameter == parameter);

    /// <summary>
    /// Writes a new key file atomically, readable and writable by the owner only (0600). An existing file
    /// is never replaced — it holds secrets that may already mark shipped models — so this throws an
    /// <see cref="IOException"/> instead; use <see cref="Save(string, bool)"/> to replace one on purpose,
    /// or <see cref="Append"/> to add slots to it.
    /// </summary>
    public void Save(string path) => Save(path, overwrite: false);

    /// <summary>Writes the key file atomically (0600); <paramref name="overwrite"/> replaces an existing one, whose keys are then lost.</summary>
    public void Save(string path, bool overwrite)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (overwrite)
        {
            using (KeyFileLock.Acquire(path))
            {
                Write(path, replace: true);
            }
        }
        else
        {
            try
            {
                Write(path, replace: false);
            }
            catch (IOException) when (File.Exists(path))
            {
                throw new IOException($"Key file '{path}' already exists and is not replaced: it may hold the only copy of keys that mark shipped models. Choose another path, add slots with Keyring.Append, or replace it on purpose with Save(path, overwrite: true).");
            }
        }
    }

    /// <summary>
    /// Adds <paramref name="slots"/> to the key file at <paramref name="path"/> (creating it when absent) and
    /// returns the whole keyring written. Writers of one file are serialised (<see cref="KeyFileLock"/>),
    /// so concurrent appends never lose a slot; a parameter that already has a slot is refused.
    /// </summary>
    public static Keyring Append(string path, IEnumerable<WatermarkKey> slots)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(slots);
        var added = slots.ToList();
        using (KeyFileLock.Acquire(path))
        {
            var existing = UnixFiles.KindOf(path, followLinks: true) == FileKind.Missing ? [] : Load(path).Slots;
            foreach (var slot in added)
            {
                if (existing.Any(s => s.Parameter == slot.Parameter))
                {
                    throw new ArgumentException($"'{slot.Parameter}' already has a slot in '{path}'; a key file holds one key per parameter.", nameof(slots));
                }
            }

            var keyring = new Keyring(existing.Concat(added));
            keyring.Write(path, replace: true);
            return keyring;
        }
    }

    private void Write(string path, bool replace)
    {
        AtomicFile.Write(path, stream =>
        {
            using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
            json.WriteStartObject();
            json.WriteString("format", FormatName);
            json.WriteNumber("version", CurrentVersion);
            json.WriteStartArray("slots");
            foreach (var slot in Slots)
            {
                json.WriteStartObject();
                json.WriteString("parameter", slot.Parameter);
                json.WriteStartArray("shape");
                foreach (var d in slot.Shape)
                {
                    json.WriteNumberValue(d);
                }

                json.WriteEndArray();
                json.WriteNumber("filterMeanLength", slot.FilterMeanLength);
                json.WriteNumber("bits", slot.Bits);
                json.WriteString("kind", KindName(slot.Kind));
                json.WriteNumber("strength", slot.Strength);
                json.WriteStartObject("message");
                switch (slot.Message.Encoding)
                {
                    case MessageEncoding.Text:
                        json.WriteString("encoding", "text");
                        json.WriteString("value", slot.Message.Text);
                        break;
                    case MessageEncoding.Bytes:
                        json.WriteString("encoding", "hex");
                        json.WriteString("value", Convert.ToHexStringLower(slot.Message.Bytes));
                        break;
                    default:
                        json.WriteString("encoding", "all-ones");
                        break;
                }

                json.WriteEndObject();
                json.WriteString("whitening", slot.Whitening == Whitening.None ? "none" : "keyed-mask-v1");
                if (slot.Code is { } code)
                {
                    json.WriteStartObject("code");
                    json.WriteString("scheme", BchScheme);
                    json.WriteNumber("m", code.FieldDegree);
                    json.WriteNumber("n", code.Length);
                    json.WriteNumber("k", code.MessageLength);
                    json.WriteNumber("t", code.CorrectableErrors);
                    json.WriteEndObject();
                }

                json.WriteString("derivation", DerivationV1);
                json.WriteString("seed", slot.Seed.ToHex());
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }, ownerOnly: true, replace);
    }

    /// <summary>
    /// Reads and validates a key file; any problem throws <see cref="KeyFileException"/> naming the field.
    /// Only a regular file (links are followed) of at most 16 MiB is read, and on Unix only one that no
    /// other user may read or write: a key file open to others is refused, as ssh refuses such a private key.
    /// </summary>
    public static Keyring Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[]? content;
        try
        {
            using var stream = InputFile.Open(path, problem => new KeyFileException(path, null, problem), "not found; create one with 'watermark keygen' or Keyring.Save.");
            if (!OperatingSystem.IsWindows())
            {
                var mode = File.GetUnixFileMode(stream.SafeFileHandle);
                const UnixFileMode others = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
                if ((mode & others) != 0)
                {
                    throw new KeyFileException(path, null, $"is open to other users (mode {Convert.ToString((int)mode, 8)}), but it holds secret keys; make it owner-only with 'chmod 600 {path}' (and consider the key exposed if others could read it).");
                }
            }

            content = InputFile.ReadAll(stream, MaxFileBytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KeyFileException(path, null, $"cannot be read: {e.Message}");
        }

        if (content is null)
        {
            throw new KeyFileException(path, null, $"holds more than {MaxFileBytes} bytes, far more than any key file; is this the right file?");
        }

        return Parse(content, path);
    }

    /// <summary>Parses key-file content; <paramref name="source"/> names it in errors.</summary>
    public static Keyring Parse(ReadOnlySpan<byte> content, string source)
    {
        if (content.StartsWith(Utf8Bom))
        {
            content = content[Utf8Bom.Length..];
        }

        // System.Text.Json lets lone surrogates (until a string is read) and repeated keys (the last wins)
        // through; check the whole file first so every problem is a KeyFileException naming it.
        if (StrictJson.Problem(content, MaxDepth) is { } problem)
        {
            throw new KeyFileException(source, null, $"{problem} (corrupt or edited?); restore it from your backup.");
        }

        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(content, new JsonReaderOptions { MaxDepth = MaxDepth });
            document = JsonDocument.ParseValue(ref reader);
            if (reader.BytesConsumed != content.Length && !IsWhitespace(content[(int)reader.BytesConsumed..]))
            {
                throw new KeyFileException(source, null, "unexpected content after the JSON object.");
            }
        }
        catch (JsonException e)
        {
            var where = e.LineNumber is { } line ? $" at line {line + 1}, byte {e.BytePositionInLine + 1}" : string.Empty;
            throw new KeyFileException(source, null, $"is not valid JSON{where} (truncated or corrupt?); restore it from your backup.");
        }

        using (document)
        {
            var reader = new FieldReader(source);
            var root = document.RootElement;
            reader.Object(root, "$", ["format", "version", "slots"]);
            var format = reader.String(root, "format", "format");
            if (format != FormatName)
            {
                throw new KeyFileException(source, "format", $"expected \"{FormatName}\", found \"{Escape(format)}\"; this is not a watermark key file.");
            }

            var version = reader.Int(root, "version", "version");
            if (version != CurrentVersion)
            {
                throw new KeyFileException(source, "version", $"version {version} is not supported; this library reads version {CurrentVersion}. Use the Watermark release that wrote the file.");
            }

            var slotsElement = reader.Property(root, "slots", "slots");
            if (slotsElement.ValueKind != JsonValueKind.Array || slotsElement.GetArrayLength() == 0)
            {
                throw new KeyFileException(source, "slots", "expected a non-empty array of slots.");
            }

            var slots = new List<WatermarkKey>();
            var index = 0;
            foreach (var element in slotsElement.EnumerateArray())
            {
                slots.Add(ReadSlot(reader, element, $"slots[{index}]"));
                index++;
            }

            var duplicate = slots.GroupBy(s => s.Parameter, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
            if (duplicate is not null)
            {
                throw new KeyFileException(source, "slots", $"parameter '{Escape(duplicate.Key)}' appears in more than one slot.");
            }

            var entries = slots.Sum(s => (long)s.Bits * s.FilterMeanLength);
            if (entries > MaxKeyringEntries)
            {
                throw new KeyFileException(source, "slots", $"the {slots.Count} slots' keys have {entries} entries together; at most {MaxKeyringEntries} are supported in one key file.");
            }

            return new Keyring(slots);
        }
    }

    private static WatermarkKey ReadSlot(FieldReader reader, JsonElement slot, string at)
    {
        reader.Object(slot, at, ["parameter", "shape", "filterMeanLength", "bits", "kind", "strength", "message", "whitening", "code", "derivation", "seed"]);
        var parameter = reader.String(slot, "parameter", $"{at}.parameter");
        if (string.IsNullOrWhiteSpace(parameter))
        {
            throw reader.Error($"{at}.parameter", "expected the state_dict name of the host weight, e.g. \"conv2.weight\".");
        }

        var shapeElement = reader.Property(slot, "shape", $"{at}.shape");
        if (shapeElement.ValueKind != JsonValueKind.Array || shapeElement.GetArrayLength() is < 2 or > 5)
        {
            throw reader.Error($"{at}.shape", "expected an array of 2 to 5 positive integers, e.g. [64, 64, 3, 3].");
        }

        var shape = new List<long>();
        foreach (var d in shapeElement.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var value) || value <= 0 || value > int.MaxValue)
            {
                throw reader.Error($"{at}.shape", "expected an array of 2 to 5 positive integers, e.g. [64, 64, 3, 3].");
            }

            shape.Add(value);
        }

        int m;
        try
        {
            m = Capacity.FilterMeanLength(shape);
        }
        catch (ArgumentException e)
        {
            throw reader.Error($"{at}.shape", e.Message);
        }

        var declaredM = reader.Int(slot, "filterMeanLength", $"{at}.filterMeanLength");
        if (declaredM != m)
        {
            throw reader.Error($"{at}.filterMeanLength", $"is {declaredM} but the shape {Capacity.ShapeText(shape)} gives M = {m}; the file was edited or corrupted.");
        }

        var bits = reader.Int(slot, "bits", $"{at}.bits");
        if (bits <= 0)
        {
            throw reader.Error($"{at}.bits", $"expected a positive number of bits T, found {bits}.");
        }

        if (bits > MaxBits || (long)bits * m > MaxKeyEntries)
        {
            throw reader.Error($"{at}.bits", $"T = {bits} with M = {m} makes a key of {(long)bits * m} entries; at most {MaxBits} bits and {MaxKeyEntries} entries per slot are supported.");
        }

        var kindText = reader.String(slot, "kind", $"{at}.kind");
        var kind = kindText switch
        {
            "direct" => KeyKind.Direct,
            "diff" => KeyKind.Diff,
            "random" => KeyKind.Random,
            _ => throw reader.Error($"{at}.kind", $"expected \"direct\", \"diff\" or \"random\", found \"{Escape(kindText)}\"."),
        };

        var strengthElement = reader.Property(slot, "strength", $"{at}.strength");
        if (strengthElement.ValueKind != JsonValueKind.Number || !strengthElement.TryGetDouble(out var strength) || !double.IsFinite(strength) || strength <= 0)
        {
            throw reader.Error($"{at}.strength", "expected a positive number λ (the paper uses 0.01).");
        }

        var message = ReadMessage(reader, reader.Property(slot, "message", $"{at}.message"), $"{at}.message");
        if (!message.FitsIn(bits))
        {
            throw reader.Error($"{at}.message", $"has {message.BitLength} bits but the slot carries only {bits}.");
        }

        var whiteningText = reader.String(slot, "whitening", $"{at}.whitening");
        var whitening = whiteningText switch
        {
            "none" => Whitening.None,
            "keyed-mask-v1" => Whitening.KeyedMask,
            _ => throw reader.Error($"{at}.whitening", $"expected \"none\" or \"keyed-mask-v1\", found \"{Escape(whiteningText)}\"."),
        };

        var derivation = reader.String(slot, "derivation", $"{at}.derivation");
        if (derivation != DerivationV1)
        {
            throw reader.Error($"{at}.derivation", $"expected \"{DerivationV1}\", found \"{Escape(derivation)}\"; the file was written by an unknown version.");
        }

        var seedText = reader.String(slot, "seed", $"{at}.seed");
        if (!SecretSeed.TryParseHex(seedText, out var seed) || seed is null)
        {
            // The value is secret (or a damaged secret): describe it, never echo it.
            throw reader.Error($"{at}.seed", $"expected 64 hex digits (256 bits), found {seedText.Length} characters that are not a valid seed.");
        }

        if (kind == KeyKind.Diff && m < 2)
        {
            throw reader.Error($"{at}.kind", $"a diff key needs M ≥ 2; the shape gives M = {m}.");
        }

        var code = slot.TryGetProperty("code", out var codeElement) ? ReadCode(reader, codeElement, $"{at}.code", message, bits) : null;
        return WatermarkKey.Create(parameter, shape, bits, kind, message, strength, whitening, allowOverCapacity: true, seed, code);
    }

    // Optional (absent in files written before codes existed, which keep working): the payload's BCH code.
    private static BchCode ReadCode(FieldReader reader, JsonElement element, string at, Message message, int bits)
    {
        reader.Object(element, at, ["scheme", "m", "n", "k", "t"]);
        var scheme = reader.String(element, "scheme", $"{at}.scheme");
        if (scheme != BchScheme)
        {
            throw reader.Error($"{at}.scheme", $"expected \"{BchScheme}\", found \"{Escape(scheme)}\"; the file was written by an unknown version.");
        }

        var m = reader.Int(element, "m", $"{at}.m");
        var n = reader.Int(element, "n", $"{at}.n");
        var k = reader.Int(element, "k", $"{at}.k");
        var t = reader.Int(element, "t", $"{at}.t");
        if (m is < BchCode.MinFieldDegree or > BchCode.MaxFieldDegree || k <= 0 || t <= 0 || n <= k || n > (1 << m) - 1)
        {
            throw reader.Error(at, $"m = {m}, n = {n}, k = {k}, t = {t} is no BCH code this library knows (m from {BchCode.MinFieldDegree} to {BchCode.MaxFieldDegree}, 0 < k < n < 2^m).");
        }

        BchCode code;
        try
        {
            code = BchCode.Create(m, t, k);
        }
        catch (ArgumentException e)
        {
            throw reader.Error(at, e.Message);
        }

        if (code.Length != n || code.CorrectableErrors != t)
        {
            throw reader.Error(at, $"m = {m}, k = {k}, t = {t} gives {code}, not n = {n}; the file was edited or corrupted.");
        }

        if (message.Encoding == MessageEncoding.AllOnes || k != message.BitLength)
        {
            throw reader.Error($"{at}.k", $"is {k} but the message has {message.BitLength} bits; the file was edited or corrupted.");
        }

        if (n > bits)
        {
            throw reader.Error($"{at}.n", $"is {n} but the slot carries only {bits} bits; the file was edited or corrupted.");
        }

        return code;
    }

    private static Message ReadMessage(FieldReader reader, JsonElement element, string at)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw reader.Error(at, "expected an object such as {\"encoding\": \"text\", \"value\": \"ACME Corp\"}.");
        }

        var encoding = reader.String(element, "encoding", $"{at}.encoding");
        switch (encoding)
        {
            case "all-ones":
                reader.Object(element, at, ["encoding"]);
                return Message.AllOnes;
            case "text":
                reader.Object(element, at, ["encoding", "value"]);
                var text = reader.String(element, "value", $"{at}.value");
                if (text.Length == 0)
                {
                    throw reader.Error($"{at}.value", "a text message must not be empty.");
                }

                // The stored text is final: normalising it again could change its bytes on a platform whose
                // normalisation differs (e.g. .NET's invariant-globalization mode, where Normalize is a no-op).
                return Message.FromStoredText(text);
            case "hex":
                reader.Object(element, at, ["encoding", "value"]);
                var hex = reader.String(element, "value", $"{at}.value");
                try
                {
                    if (hex.Length == 0)
                    {
                        throw new FormatException();
                    }

                    return Message.FromBytes(Convert.FromHexString(hex));
                }
                catch (FormatException)
                {
                    throw reader.Error($"{at}.value", "expected a non-empty even number of hex digits.");
                }

            default:
                throw reader.Error($"{at}.encoding", $"expected \"text\", \"hex\" or \"all-ones\", found \"{Escape(encoding)}\".");
        }
    }

    internal static string KindName(KeyKind kind) => kind switch
    {
        KeyKind.Direct => "direct",
        KeyKind.Diff => "diff",
        _ => "random",
    };

    private static bool IsWhitespace(ReadOnlySpan<byte> rest)
    {
        foreach (var b in rest)
        {
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
            {
                return false;
            }
        }

        return true;
    }

    // Field values are echoed only when short and printable, so a damaged file cannot flood a terminal.
    private static string Escape(string value)
    {
        var builder = new StringBuilder();
        foreach (var c in value.Length > 40 ? value[..40] + "…" : value)
        {
            builder.Append(char.IsControl(c) ? '?' : c);
        }

        return builder.ToString();
    }

    private sealed class FieldReader(string source)
    {
        public KeyFileException Error(string field, string problem) => new(source, field, problem);

        public void Object(JsonElement element, string at, string[] allowed)
        {
            if (element.ValueKind != JsonValueKind.Object)
            {
                throw Error(at, "expected a JSON object.");
            }

            foreach (var property in element.EnumerateObject())
            {
                if (Array.IndexOf(allowed, property.Name) < 0)
                {
                    throw Error(at == "$" ? property.Name : $"{at}.{property.Name}", $"unknown field; a version-{CurrentVersion} key file has only {string.Join(", ", allowed)}.");
                }
            }
        }

        public JsonElement Property(JsonElement element, string name, string field)
        {
            if (!element.TryGetProperty(name, out var value))
            {
                throw Error(field, "missing.");
            }

            return value;
        }

        public string String(JsonElement element, string name, string field)
        {
            var value = Property(element, name, field);
            if (value.ValueKind != JsonValueKind.String)
            {
                throw Error(field, $"expected a string, found {Describe(value)}.");
            }

            return value.GetString()!;
        }

        public int Int(JsonElement element, string name, string field)
        {
            var value = Property(element, name, field);
            if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var result))
            {
                throw Error(field, $"expected an integer, found {Describe(value)}.");
            }

            return result;
        }

        private static string Describe(JsonElement value) => value.ValueKind switch
        {
            JsonValueKind.Number => value.GetRawText().Length > 24 ? "an out-of-range number" : value.GetRawText(),
            JsonValueKind.String => "a string",
            JsonValueKind.Array => "an array",
            JsonValueKind.Object => "an object",
            JsonValueKind.True or JsonValueKind.False => "a boolean",
            _ => "null",
        };
    }
}
