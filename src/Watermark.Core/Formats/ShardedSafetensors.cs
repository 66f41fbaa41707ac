using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace Watermark.Formats;

/// <summary>
/// A Hugging Face sharded safetensors model: <c>model.safetensors.index.json</c>, <c>{"metadata":
/// {"total_size": N, …}, "weight_map": {tensor name: shard file}}</c>, beside the shards
/// (<c>model-00001-of-0000N.safetensors</c>), each an ordinary safetensors file. Only the shards'
/// headers are read here; the model's tensors are those the map names, in its order, each read from
/// its shard. The map and the shards must agree exactly, or two readers could take different tensors.
/// </summary>
/// <remarks>
/// <c>metadata.total_size</c> must be a non-negative integer when present, but it need not equal the sum
/// of the tensors' bytes: genuine writers disagree on it (transformers' older shard_checkpoint counted a
/// bool element as 1/8 byte; quantisers record packed sizes), and every byte read is already accounted
/// for by the shards' own strictly checked headers.
/// </remarks>
internal static class ShardedSafetensors
{
    /// <summary>How an index file's name ends.</summary>
    public const string IndexSuffix = ".safetensors.index.json";

    private const long MaxIndexBytes = 100_000_000;
    private const int MaxDepth = 8;

    public static bool IsIndexName(string path) => path.EndsWith(IndexSuffix, StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether a file that is not a safetensors file starts like JSON (an index).</summary>
    public static bool StartsLikeJson(ReadOnlySpan<byte> start)
    {
        var text = start.TrimStart(" \t\r\n"u8);
        return text.Length > 0 && text[0] == (byte)'{';
    }

    public static List<TensorEntry> ReadIndex(FileCursor cursor, ModelParts parts)
    {
        var index = Path.GetFileName(cursor.Source);
        if (cursor.Length > MaxIndexBytes)
        {
            throw cursor.Error($"is {cursor.Length} bytes, far more than a sharded safetensors index (model.safetensors.index.json) holds; this is not one.");
        }

        var json = cursor.ReadBytes(cursor.Length, "the index");
        if (StrictJson.Problem(json, MaxDepth) is { } problem)
        {
            throw cursor.Error($"the sharded safetensors index {(problem.StartsWith("is ", StringComparison.Ordinal) ? problem : "is unusable: " + problem)}; the file is corrupt or crafted. Write it again (save_pretrained writes it).");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = MaxDepth });
        }
        catch (JsonException e)
        {
            throw cursor.Error($"is not valid JSON ({e.Message}); a sharded safetensors index is a JSON object with a \"weight_map\".");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("weight_map", out var weightMap) || weightMap.ValueKind != JsonValueKind.Object)
            {
                throw cursor.Error("has no \"weight_map\" object; a sharded safetensors index maps each tensor name to its shard file ({\"weight_map\": {\"conv1.weight\": \"model-00001-of-00002.safetensors\", …}}). Give the index or a .safetensors file.");
            }

            if (root.TryGetProperty("metadata", out var metadata))
            {
                CheckMetadata(cursor, metadata);
            }

            return ReadShards(cursor, parts, weightMap, index);
        }
    }

    private static void CheckMetadata(FileCursor cursor, JsonElement metadata)
    {
        if (metadata.ValueKind != JsonValueKind.Object)
        {
            throw cursor.Error("has a \"metadata\" field that is not an object; the index is corrupt. Remove the field or write the index again.");
        }

        if (metadata.TryGetProperty("total_size", out var total) && (total.ValueKind != JsonValueKind.Number || !total.TryGetInt64(out var size) || size < 0))
        {
            throw cursor.Error($"has a \"metadata.total_size\" of {total.GetRawText()}, not a non-negative integer (the shards' data bytes); the index is corrupt. Remove the field or write the index again.");
        }
    }

    private static List<TensorEntry> ReadShards(FileCursor cursor, ModelParts parts, JsonElement weightMap, string index)
    {
        var map = new List<(string Name, string Shard)>();
        foreach (var property in weightMap.EnumerateObject())
        {
            var name = Shapes.Printable(property.Name);
            if (property.Name.Length == 0)
            {
                throw cursor.Error("has a \"weight_map\" entry with an empty tensor name; the index is corrupt.");
            }

            if (property.Value.ValueKind != JsonValueKind.String || property.Value.GetString() is not { } shard)
            {
                throw cursor.Error($"has a \"weight_map\" entry '{name}' that is not a file name (a string); the index is corrupt.");
            }

            map.Add((property.Name, shard));
        }

        if (map.Count == 0)
        {
            throw cursor.Error("has an empty \"weight_map\": it names no tensors, so it cannot carry or be checked for a mark.");
        }

        // The shards in name order (model-00001-of-…, model-00002-of-…), whatever order the map names them in.
        var partOf = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (name, shard) in map.DistinctBy(m => m.Shard).OrderBy(m => m.Shard, StringComparer.Ordinal))
        {
            partOf[shard] = parts.Add(shard, $"the \"weight_map\" entry '{Shapes.Printable(name)}'", "shard");
        }

        // Only the headers are read; the values stay in the shards until asked for.
        var held = new Dictionary<string, Dictionary<string, TensorEntry>>(StringComparer.Ordinal);
        foreach (var (shard, part) in partOf)
        {
            using var stream = parts.Open(part);
            var shardCursor = new FileCursor(stream, parts.Paths[part]);
            if (shardCursor.Length == 0)
            {
                throw shardCursor.Error($"is empty (0 bytes); it is a shard of '{index}' and must be a safetensors file. Copy it again.");
            }

            held[shard] = Safetensors.ReadIndex(shardCursor).ToDictionary(e => e.Name, e => e.InPart(part), StringComparer.Ordinal);
        }

        var mapped = map.ToDictionary(m => m.Name, m => m.Shard, StringComparer.Ordinal);
        foreach (var (shard, entries) in held)
        {
            foreach (var name in entries.Keys)
            {
                var printable = Shapes.Printable(name);
                if (!mapped.TryGetValue(name, out var owner))
                {
                    throw cursor.Error($"does not name the tensor '{printable}' in its \"weight_map\", yet the shard '{shard}' holds it; a reader of the index and a reader of the shard would see different models, so the model is refused. Write the index again from the shards.");
                }

                if (owner != shard)
                {
                    throw cursor.Error(held[owner].ContainsKey(name)
                        ? $"has the tensor '{printable}' in two shards, '{owner}' and '{shard}' (the \"weight_map\" names '{owner}'); two readers could take different values, so the model is refused. Save the model again so each tensor lies in one shard."
                        : $"puts the tensor '{printable}' in the shard '{owner}' (\"weight_map\"), but it lies in '{shard}'; the index and the shards disagree, so the model is refused. Write the index again from the shards.");
                }
            }
        }

        var tensors = new List<TensorEntry>(map.Count);
        foreach (var (name, shard) in map)
        {
            if (!held[shard].TryGetValue(name, out var entry))
            {
                throw cursor.Error($"puts the tensor '{Shapes.Printable(name)}' in the shard '{shard}' (\"weight_map\"), which does not hold it; the shard belongs to another save or the index was edited. Copy the shards and the index from the same save.");
            }

            tensors.Add(entry);
        }

        return tensors;
    }
}
