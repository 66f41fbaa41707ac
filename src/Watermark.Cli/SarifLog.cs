using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace Watermark.Cli;

/// <summary>
/// <c>scan --sarif</c>: a SARIF 2.1.0 log with one run and one result per model (WM001 present, WM002 absent, WM003
/// unusable), written as results arrive; only the artifacts' paths and hashes are kept until the end. Counts and
/// p-values only, no message read back: a SARIF log is meant to be uploaded (e.g. to code scanning).
/// </summary>
internal sealed class SarifLog : IDisposable
{
    private const string SourceRoot = "%SRCROOT%";

    private static readonly (string Id, string Name, string Level, string Short, string Full)[] Rules =
    [
        ("WM001", "WatermarkPresent", "note", "The owner's watermark is present.",
            "The key's watermark was read from the model's host layers with a combined p-value at most alpha (or, with a reference, after a confident alignment within the calibrated bit error rate bound)."),
        ("WM002", "WatermarkAbsent", "warning", "The owner's watermark is absent.",
            "The model was read, but its host layers do not carry the key's watermark at the stated false-positive bound alpha."),
        ("WM003", "UnusableModel", "error", "The model could not be checked.",
            "The file is missing, corrupt, truncated or of an unknown format, or the key names a layer the model lacks or has in another shape."),
    ];

    private readonly Utf8JsonWriter json;
    private readonly List<(string Path, FileDigest? Digest)> artifacts = [];
    private readonly string currentFolder;

    public SarifLog(Stream stream, string currentFolder)
    {
        this.currentFolder = currentFolder;
        json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("$schema", "https://json.schemastore.org/sarif-2.1.0.json");
        json.WriteString("version", "2.1.0");
        json.WriteStartArray("runs");
        json.WriteStartObject();
        WriteTool();
        json.WriteStartObject("originalUriBaseIds");
        json.WriteStartObject(SourceRoot);
        json.WriteString("uri", new Uri(Path.TrimEndingDirectorySeparator(currentFolder) + Path.DirectorySeparatorChar).AbsoluteUri);
        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteStartArray("results");
    }

    /// <summary>Adds the result of one model.</summary>
    public void Add(ModelCheck check)
    {
        var rule = check.Status switch
        {
            ModelStatus.Present => 0,
            ModelStatus.Absent => 1,
            _ => 2,
        };
        json.WriteStartObject();
        json.WriteString("ruleId", Rules[rule].Id);
        json.WriteNumber("ruleIndex", rule);
        json.WriteString("level", Rules[rule].Level);
        json.WriteStartObject("message");
        json.WriteString("text", $"{check.Input.Path}: watermark {check.Summary()}");
        json.WriteEndObject();
        json.WriteStartArray("locations");
        json.WriteStartObject();
        json.WriteStartObject("physicalLocation");
        WriteArtifactLocation(check.Input.Path, artifacts.Count);
        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteEndArray();
        if (check.Verdict is { } verdict)
        {
            json.WriteStartObject("properties");
            json.WriteString("status", ModelCheck.StatusWord(check.Status));
            VerdictJson.WritePValue(json, check.Aligned?.Plain?.PValue ?? verdict.PValue);
            json.WriteNumber("alpha", verdict.Alpha);
            json.WriteNumber("bits", verdict.Bits);
            json.WriteNumber("matched", verdict.Matched);
            json.WriteNumber("ber", verdict.BitErrorRate);
            json.WriteEndObject();
        }

        json.WriteEndObject();
        json.Flush();
        artifacts.Add((check.Input.Path, check.Digest));
        // The other files of a model in several (shards, ONNX external data): artifacts too, each with its digest.
        foreach (var part in check.Files.IsDefaultOrEmpty ? [] : check.Files.Skip(1))
        {
            artifacts.Add((ScanInputs.Reported(part.FullPath, currentFolder), part));
        }
    }

    /// <summary>Ends the log: the artifacts with their SHA-256, and the invocation with the exit code.</summary>
    public void Complete(int exitCode)
    {
        json.WriteEndArray();
        json.WriteStartArray("artifacts");
        foreach (var (path, digest) in artifacts)
        {
            json.WriteStartObject();
            json.WriteStartObject("location");
            WriteUri(path);
            json.WriteEndObject();
            if (digest is not null)
            {
                json.WriteNumber("length", digest.Length);
                if (digest.Sha256 is not null)
                {
                    json.WriteStartObject("hashes");
                    json.WriteString("sha-256", digest.Sha256);
                    json.WriteEndObject();
                }
            }

            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartArray("invocations");
        json.WriteStartObject();
        json.WriteBoolean("executionSuccessful", true);
        json.WriteNumber("exitCode", exitCode);
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
        json.Flush();
    }

    public void Dispose() => json.Dispose();

    private void WriteTool()
    {
        json.WriteStartObject("tool");
        json.WriteStartObject("driver");
        json.WriteString("name", Attestation.ToolName);
        json.WriteString("version", Attestation.ToolVersion);
        json.WriteStartArray("rules");
        foreach (var (id, name, level, brief, full) in Rules)
        {
            json.WriteStartObject();
            json.WriteString("id", id);
            json.WriteString("name", name);
            json.WriteStartObject("shortDescription");
            json.WriteString("text", brief);
            json.WriteEndObject();
            json.WriteStartObject("fullDescription");
            json.WriteString("text", full);
            json.WriteEndObject();
            json.WriteStartObject("defaultConfiguration");
            json.WriteString("level", level);
            json.WriteEndObject();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private void WriteArtifactLocation(string path, int index)
    {
        json.WriteStartObject("artifactLocation");
        WriteUri(path);
        json.WriteNumber("index", index);
        json.WriteEndObject();
    }

    // Relative to %SRCROOT% (the current folder) when the file lies under it, else an absolute file: URI.
    private void WriteUri(string reportedPath)
    {
        if (Path.IsPathRooted(reportedPath))
        {
            json.WriteString("uri", new Uri(reportedPath).AbsoluteUri);
            return;
        }

        json.WriteString("uri", string.Join('/', reportedPath.Split('/').Select(Uri.EscapeDataString)));
        json.WriteString("uriBaseId", SourceRoot);
    }
}
