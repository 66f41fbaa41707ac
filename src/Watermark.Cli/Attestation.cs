using System;
using System.Globalization;
using System.IO;
using System.Reflection;
using System.Text;
using System.Text.Json;

namespace Watermark.Cli;

/// <summary>
/// The verdict on a model as an in-toto Statement v1 (https://github.com/in-toto/attestation, spec/v1/statement.md),
/// unsigned: a signer (cosign, a DSSE tool) wraps it. The subject is the model's file(s) by SHA-256; the predicate holds
/// the verdict, counts and p-values, never the key, its seed, the key-derived projection or the message read back.
/// </summary>
internal static class Attestation
{
    /// <summary>The Statement layer's type, fixed by in-toto for v1.</summary>
    public const string StatementType = "https://in-toto.io/Statement/v1";

    /// <summary>This tool's predicate type; a new major version of the predicate gets a new URI.</summary>
    public const string PredicateType = "https://github.com/watermark-torchsharp/watermark/verdict/v1";

    /// <summary>What scan names an attestation file after: <c>models/a.pt</c> → <c>models%2Fa.pt.intoto.json</c>.</summary>
    public const string Extension = ".intoto.json";

    /// <summary>The tool's name and version, as SARIF and attestations give them.</summary>
    public static string ToolName => "watermark";

    /// <inheritdoc cref="ToolName"/>
    public static string ToolVersion { get; } =
        typeof(Attestation).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    /// <summary>
    /// The file name of a model's attestation in <c>scan --attestations DIR</c>: its reported path with '%', '/', '\' and ':'
    /// percent-encoded (so different paths never share a name, and none leaves DIR), plus <see cref="Extension"/>.
    /// </summary>
    public static string FileName(string reportedPath)
    {
        var name = new StringBuilder(reportedPath.Length + Extension.Length);
        foreach (var c in reportedPath)
        {
            name.Append(c switch
            {
                '%' => "%25",
                '/' => "%2F",
                '\\' => "%5C",
                ':' => "%3A",
                _ => c.ToString(),
            });
        }

        return name.Append(Extension).ToString();
    }

    /// <summary>
    /// Writes the statement for a usable check to <paramref name="path"/>, atomically; an existing file is replaced only
    /// with <paramref name="replace"/>. <paramref name="reference"/> is the <c>--reference</c> model's digest, if any.
    /// </summary>
    public static void Write(string path, ModelCheck check, FileDigest? reference, bool replace, DateTimeOffset time)
    {
        if (check.Status == ModelStatus.Unusable)
        {
            throw new InvalidOperationException("An unusable model gets no attestation.");
        }

        AtomicFile.Write(path, stream =>
        {
            using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
            WriteStatement(json, check, reference, time);
            json.Flush();
            stream.Write("\n"u8);
        }, ownerOnly: false, replace);
    }

    private static void WriteStatement(Utf8JsonWriter json, ModelCheck check, FileDigest? reference, DateTimeOffset time)
    {
        json.WriteStartObject();
        json.WriteString("_type", StatementType);
        json.WriteStartArray("subject");
        foreach (var file in check.Files)
        {
            WriteDescriptor(json, file);
        }

        json.WriteEndArray();
        json.WriteString("predicateType", PredicateType);
        json.WriteStartObject("predicate");
        json.WriteString("verdict", ModelCheck.StatusWord(check.Status));
        if (check.Aligned is { } aligned)
        {
            VerdictJson.WriteFields(json, aligned);
        }
        else
        {
            VerdictJson.WriteFields(json, check.Plain!, payload: false, check.Folds);
        }

        json.WriteString("format", ModelCheck.FormatWord(check.Format!.Value));
        if (reference is not null)
        {
            json.WritePropertyName("referenceModel");
            WriteDescriptor(json, reference);
        }

        json.WriteStartObject("verifier");
        json.WriteString("name", ToolName);
        json.WriteString("version", ToolVersion);
        json.WriteEndObject();
        json.WriteString("timeVerified", time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
        json.WriteEndObject();
        json.WriteEndObject();
    }

    // An in-toto ResourceDescriptor: the file's name (not its folder: where it was scanned says nothing about what it is) and digest.
    private static void WriteDescriptor(Utf8JsonWriter json, FileDigest file)
    {
        json.WriteStartObject();
        json.WriteString("name", Path.GetFileName(file.FullPath));
        json.WriteStartObject("digest");
        json.WriteString("sha256", file.Sha256 ?? throw new InvalidOperationException($"'{file.FullPath}' was not hashed; an attestation needs its digest (scan refuses --no-digest with --attestations)."));
        json.WriteEndObject();
        json.WriteEndObject();
    }
}
