using System;
using System.Collections.Generic;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace Watermark;

/// <summary>
/// Checks untrusted JSON (key files, safetensors headers) before it is parsed, for what
/// System.Text.Json lets through or reports only by crashing later: invalid UTF-8, a <c>\u</c> escape of
/// a lone UTF-16 surrogate (GetString then throws InvalidOperationException), and a key that appears
/// twice in one object (the last would silently win, so two readers could disagree about the file).
/// </summary>
/// <remarks>
/// JsonDocumentOptions.AllowDuplicateProperties (.NET 10) also refuses duplicates, but throws
/// InvalidOperationException on the surrogate case and does not name the JSON path; one walk here
/// covers both with a message that says where.
/// </remarks>
internal static class StrictJson
{
    /// <summary>The problem with <paramref name="utf8"/>, as a sentence, or null when it is fit to parse.</summary>
    public static string? Problem(ReadOnlySpan<byte> utf8, int maxDepth)
    {
        if (!Utf8.IsValid(utf8))
        {
            return "is not valid UTF-8";
        }

        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = maxDepth });
        var names = new Stack<HashSet<string>?>();
        var path = new Stack<string>();
        string? pending = null;
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                        names.Push(new HashSet<string>(StringComparer.Ordinal));
                        path.Push(pending ?? string.Empty);
                        pending = null;
                        break;
                    case JsonTokenType.StartArray:
                        names.Push(null);
                        path.Push(pending ?? string.Empty);
                        pending = null;
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        names.Pop();
                        path.Pop();
                        break;
                    case JsonTokenType.PropertyName:
                        if (!TryGetString(ref reader, out var name))
                        {
                            return $"a key at byte {reader.TokenStartIndex} holds an escaped lone UTF-16 surrogate (\\uD800–\\uDFFF), which no text can contain";
                        }

                        if (!names.Peek()!.Add(name))
                        {
                            return $"the key \"{Printable(name)}\" appears twice in {Where(path)}; a reader could take either value";
                        }

                        pending = name;
                        break;
                    case JsonTokenType.String:
                        if (!TryGetString(ref reader, out _))
                        {
                            return $"the string at byte {reader.TokenStartIndex}{(pending is null ? string.Empty : $" (key \"{Printable(pending)}\")")} holds an escaped lone UTF-16 surrogate (\\uD800–\\uDFFF), which no text can contain";
                        }

                        pending = null;
                        break;
                    default:
                        pending = null;
                        break;
                }
            }
        }
        catch (JsonException)
        {
            // Syntax errors are the parser's to report, with its line and byte.
            return null;
        }

        return null;
    }

    /// <summary>A value from a damaged file made safe to print: short, control characters escaped.</summary>
    public static string Printable(string value)
    {
        var builder = new StringBuilder();
        foreach (var c in value.Length > 60 ? value[..60] + "…" : value)
        {
            builder.Append(char.IsControl(c) || char.IsSurrogate(c) ? '?' : c);
        }

        return builder.ToString();
    }

    private static bool TryGetString(ref Utf8JsonReader reader, out string value)
    {
        try
        {
            value = reader.GetString()!;
            return true;
        }
        catch (InvalidOperationException)
        {
            value = string.Empty;
            return false;
        }
    }

    private static string Where(Stack<string> path)
    {
        var parts = path.ToArray();
        Array.Reverse(parts);
        var joined = string.Join(".", Array.FindAll(parts, p => p.Length > 0));
        return joined.Length == 0 ? "the top-level object" : $"\"{Printable(joined)}\"";
    }
}
