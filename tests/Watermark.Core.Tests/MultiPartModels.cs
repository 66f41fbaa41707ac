using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using Google.Protobuf;
using Watermark.Formats;

namespace Watermark.Tests;

/// <summary>
/// Multi-file models laid out as their tools lay them out — a sharded safetensors index
/// (save_pretrained's names and index, shards by the library's single-file writer) and an ONNX model with
/// external data (encoded field by field with Google.Protobuf, as onnx.save_model writes it) — and the
/// hostile variants every reader must refuse. Shared by the Core and the CLI tests (linked there).
/// </summary>
internal static class MultiPartModels
{
    public const string DataFile = "model.onnx.data";

    /// <summary>The hostile cases: a name, and the words the refusal must contain.</summary>
    public static readonly IReadOnlyDictionary<string, string> Hostile = new Dictionary<string, string>
    {
        ["shard ../ path"] = "climbs out of the model's folder",
        ["shard absolute path"] = "an absolute path",
        ["shard symlink outside"] = "outside the model's folder",
        ["shard missing"] = "is missing",
        ["tensor in two shards"] = "in two shards",
        ["map names the wrong shard"] = "but it lies in",
        ["map names a tensor the shard lacks"] = "which does not hold it",
        ["shard holds a tensor the map lacks"] = "does not name the tensor",
        ["duplicate key in weight_map"] = "appears twice",
        ["total_size not a number"] = "metadata.total_size",
        ["data ../ location"] = "climbs out of the model's folder",
        ["data absolute location"] = "an absolute path",
        ["data symlink outside"] = "outside the model's folder",
        ["data file missing"] = "is missing",
        ["data offset+length past the end"] = "runs past the end",
        ["duplicate external_data key"] = "'location' twice",
    };

    /// <summary>A fresh empty folder <c>model</c> inside a fresh folder under <paramref name="root"/> (its sibling <c>outside</c> is for escapes).</summary>
    public static string NewFolder(string root)
    {
        var folder = Path.Combine(root, $"multipart-{Guid.NewGuid():N}", "model");
        Directory.CreateDirectory(folder);
        Directory.CreateDirectory(Path.Combine(folder, "..", "outside"));
        return folder;
    }

    /// <summary>
    /// Writes <paramref name="tensors"/> as <paramref name="shards"/> safetensors shards in order and the index
    /// (metadata.total_size, weight_map sorted by name, two-space indent); <paramref name="map"/> may change the
    /// weight_map's entries. Returns the index's path.
    /// </summary>
    public static string WriteSharded(string folder, IReadOnlyList<StoredTensor> tensors, int shards = 2, Func<IEnumerable<(string Name, string Shard)>, IEnumerable<(string Name, string Shard)>>? map = null)
    {
        var entries = new List<(string Name, string Shard)>();
        for (var i = 0; i < shards; i++)
        {
            var shard = ShardName(i, shards);
            var part = tensors.Skip(i * tensors.Count / shards).Take(((i + 1) * tensors.Count / shards) - (i * tensors.Count / shards)).ToList();
            ModelFile.Write(Path.Combine(folder, shard), ModelFormat.Safetensors, part);
            entries.AddRange(part.Select(t => (t.Name, shard)));
        }

        var index = Path.Combine(folder, "model.safetensors.index.json");
        File.WriteAllText(index, IndexJson((map ?? (e => e))(entries), tensors.Sum(t => (long)t.Data.Length).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return index;
    }

    public static string ShardName(int i, int count) => $"model-{i + 1:00000}-of-{count:00000}.safetensors";

    /// <summary>The index as save_pretrained writes it (json.dumps(indent=2, sort_keys=True)); <paramref name="totalSize"/> is raw JSON.</summary>
    public static string IndexJson(IEnumerable<(string Name, string Shard)> map, string totalSize)
    {
        var lines = map.OrderBy(m => m.Name, StringComparer.Ordinal).Select(m => $"    {JsonSerializer.Serialize(m.Name)}: {JsonSerializer.Serialize(m.Shard)}");
        return $"{{\n  \"metadata\": {{\n    \"total_size\": {totalSize}\n  }},\n  \"weight_map\": {{\n{string.Join(",\n", lines)}\n  }}\n}}\n";
    }

    /// <summary>
    /// Writes an ONNX model whose initializers all keep their values in external data: one file
    /// (<see cref="DataFile"/>, at consecutive offsets) or one file per tensor, named after it.
    /// <paramref name="externalData"/> may change each tensor's external_data entries. Returns the model's path.
    /// </summary>
    public static string WriteExternalOnnx(string folder, IReadOnlyList<StoredTensor> tensors, bool oneFile = true, Func<List<(string Key, string Value)>, List<(string Key, string Value)>>? externalData = null)
    {
        var initializers = new List<byte[]>();
        long offset = 0;
        foreach (var tensor in tensors)
        {
            var location = oneFile ? DataFile : tensor.Name;
            using (var data = new FileStream(Path.Combine(folder, location), oneFile ? FileMode.Append : FileMode.Create))
            {
                data.Write(tensor.Data.Span);
            }

            List<(string Key, string Value)> entries = [("location", location), ("offset", (oneFile ? offset : 0).ToString(System.Globalization.CultureInfo.InvariantCulture)), ("length", tensor.Data.Length.ToString(System.Globalization.CultureInfo.InvariantCulture))];
            offset += tensor.Data.Length;
            initializers.Add(ExternalTensor(tensor, externalData is null ? entries : externalData(entries)));
        }

        var path = Path.Combine(folder, "model.onnx");
        File.WriteAllBytes(path, Message(o =>
        {
            o.WriteTag(1, WireFormat.WireType.Varint);
            o.WriteInt64(8);
            o.WriteTag(7, WireFormat.WireType.LengthDelimited);
            o.WriteBytes(Message(g =>
            {
                g.WriteTag(2, WireFormat.WireType.LengthDelimited);
                g.WriteString("main_graph");
                foreach (var initializer in initializers)
                {
                    g.WriteTag(5, WireFormat.WireType.LengthDelimited);
                    g.WriteBytes(ByteString.CopyFrom(initializer));
                }
            }));
        }).ToByteArray());
        return path;
    }

    /// <summary>Makes the hostile case <paramref name="name"/> (a key of <see cref="Hostile"/>) in a new folder; returns the path to open.</summary>
    public static string MakeHostile(string name, string root, IReadOnlyList<StoredTensor> tensors)
    {
        var folder = NewFolder(root);
        var outside = Path.GetFullPath(Path.Combine(folder, "..", "outside"));
        var first = ShardName(0, 2);
        var second = ShardName(1, 2);
        switch (name)
        {
            case "shard ../ path":
            case "shard absolute path":
                // The escaping file exists and is a valid shard: the path alone is refused.
                ModelFile.Write(Path.Combine(outside, first), ModelFormat.Safetensors, tensors.Take(tensors.Count / 2).ToList());
                return WriteSharded(folder, tensors, map: m => m.Select(e => (e.Name, e.Shard == first ? Escape(name, outside, first) : e.Shard)));
            case "shard symlink outside":
                return LinkFromOutside(WriteSharded(folder, tensors), first);
            case "shard missing":
                return Without(WriteSharded(folder, tensors), second);
            case "tensor in two shards":
            {
                var index = WriteSharded(folder, tensors);
                ModelFile.Write(Path.Combine(folder, second), ModelFormat.Safetensors, [.. tensors.Skip(tensors.Count / 2), tensors[0]], replace: true);
                return index;
            }

            case "map names the wrong shard":
                return WriteSharded(folder, tensors, map: m => m.Select(e => (e.Name, e.Name == tensors[0].Name ? second : e.Shard)));
            case "map names a tensor the shard lacks":
                return WriteSharded(folder, tensors, map: m => m.Append(("ghost.weight", first)));
            case "shard holds a tensor the map lacks":
                return WriteSharded(folder, tensors, map: m => m.Where(e => e.Name != tensors[0].Name));
            case "duplicate key in weight_map":
            {
                var index = WriteSharded(folder, tensors);
                var text = File.ReadAllText(index);
                File.WriteAllText(index, text.Replace("\"weight_map\": {\n", $"\"weight_map\": {{\n    {JsonSerializer.Serialize(tensors[^1].Name)}: \"{first}\",\n", StringComparison.Ordinal));
                return index;
            }

            case "total_size not a number":
            {
                var index = WriteSharded(folder, tensors);
                File.WriteAllText(index, IndexJson(tensors.Select((t, i) => (t.Name, ShardName(i < tensors.Count / 2 ? 0 : 1, 2))), "\"large\""));
                return index;
            }

            case "data ../ location":
            case "data absolute location":
            {
                var model = WriteExternalOnnx(folder, tensors, externalData: e => [.. e.Select(p => p.Key == "location" ? (p.Key, Escape(name, outside, DataFile)) : p)]);
                File.Move(Path.Combine(folder, DataFile), Path.Combine(outside, DataFile));
                return model;
            }

            case "data symlink outside":
                return LinkFromOutside(WriteExternalOnnx(folder, tensors), DataFile);
            case "data file missing":
                return Without(WriteExternalOnnx(folder, tensors), DataFile);
            case "data offset+length past the end":
            {
                var model = WriteExternalOnnx(folder, tensors);
                using var data = new FileStream(Path.Combine(folder, DataFile), FileMode.Open);
                data.SetLength(data.Length - 4);
                return model;
            }

            case "duplicate external_data key":
                return WriteExternalOnnx(folder, tensors, externalData: e => [.. e, ("location", DataFile)]);
            default:
                throw new ArgumentException($"No hostile case '{name}'.", nameof(name));
        }
    }

    // A path to the file in the folder beside the model's: climbing out with '..', or absolute.
    private static string Escape(string hostileCase, string outside, string file) =>
        hostileCase.Contains("../", StringComparison.Ordinal) ? $"../outside/{file}" : Path.Combine(outside, file);

    // Moves a file of the model to the folder beside it and leaves a link to it in its place.
    private static string LinkFromOutside(string model, string file)
    {
        var folder = Path.GetDirectoryName(model)!;
        var moved = Path.Combine(folder, "..", "outside", file);
        File.Move(Path.Combine(folder, file), moved);
        File.CreateSymbolicLink(Path.Combine(folder, file), Path.GetFullPath(moved));
        return model;
    }

    private static string Without(string model, string file)
    {
        File.Delete(Path.Combine(Path.GetDirectoryName(model)!, file));
        return model;
    }

    private static byte[] ExternalTensor(StoredTensor tensor, List<(string Key, string Value)> externalData) => Message(o =>
    {
        foreach (var d in tensor.Shape)
        {
            o.WriteTag(1, WireFormat.WireType.Varint);
            o.WriteInt64(d);
        }

        o.WriteTag(2, WireFormat.WireType.Varint);
        o.WriteInt32(tensor.DType switch
        {
            TensorDType.Float32 => 1,
            TensorDType.Int64 => 7,
            TensorDType.Float16 => 10,
            TensorDType.Float64 => 11,
            _ => throw new ArgumentException($"No ONNX code for {tensor.DType} here.", nameof(tensor)),
        });
        o.WriteTag(8, WireFormat.WireType.LengthDelimited);
        o.WriteString(tensor.Name);
        foreach (var (key, value) in externalData)
        {
            o.WriteTag(13, WireFormat.WireType.LengthDelimited);
            o.WriteBytes(Message(e =>
            {
                e.WriteTag(1, WireFormat.WireType.LengthDelimited);
                e.WriteString(key);
                e.WriteTag(2, WireFormat.WireType.LengthDelimited);
                e.WriteString(value);
            }));
        }

        o.WriteTag(14, WireFormat.WireType.Varint);
        o.WriteInt32(1);
    }).ToByteArray();

    /// <summary>A protobuf message written by <paramref name="write"/>.</summary>
    public static ByteString Message(Action<CodedOutputStream> write)
    {
        var stream = new MemoryStream();
        var output = new CodedOutputStream(stream);
        write(output);
        output.Flush();
        return ByteString.CopyFrom(stream.ToArray());
    }
}
