using System;
using System.Buffers;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text.Json;
using Watermark.Formats;

namespace Watermark.Cli;

/// <summary>What a check of one model file found.</summary>
internal enum ModelStatus
{
    /// <summary>The mark is there.</summary>
    Present,

    /// <summary>The file was read and the mark is not there.</summary>
    Absent,

    /// <summary>The file could not be checked: missing, corrupt, unknown format, a key for another model.</summary>
    Unusable,
}

/// <summary>One file of the model as attested: its name, its SHA-256 (null when <c>scan --no-digest</c> skipped it) and length.</summary>
internal sealed record FileDigest(string FullPath, string? Sha256, long Length);

/// <summary>
/// The outcome of checking one model file against the keyring: the verdict (plain, or with <c>--reference</c> the
/// aligned one), the format, and the SHA-256 of every file the model was read from — or the one-line reason it is unusable.
/// </summary>
internal sealed record ModelCheck(ScanInput Input, ModelFormat? Format, ImmutableArray<FileDigest> Files, VerificationResult? Plain, ReferenceVerificationResult? Aligned, string? Error)
{
    /// <summary>The slots <see cref="Plain"/> read folded with a batch norm (slot → the norm's prefix; <c>verify --fold-norm</c>), or null.</summary>
    public IReadOnlyDictionary<string, string>? Folds { get; init; }

    public ModelStatus Status => Error is not null ? ModelStatus.Unusable
        : (Aligned?.IsPresent ?? Plain!.IsPresent) ? ModelStatus.Present
        : ModelStatus.Absent;

    /// <summary>The opened file's digest, when it could be read.</summary>
    public FileDigest? Digest => Files.IsDefaultOrEmpty ? null : Files[0];

    /// <summary>The verdict whose counts and p-value are reported: the aligned one with <c>--reference</c>.</summary>
    public VerificationResult? Verdict => Aligned?.Aligned ?? Plain;

    /// <summary>
    /// Checks one file: hashes it (streamed, whatever its size) and verifies it; every expected failure becomes an
    /// unusable result with its one-line reason. The files open at once are this one and its parts.
    /// </summary>
    public static ModelCheck Run(ScanInput input, Keyring keyring, ModelFormat? format, double alpha, ModelFile? reference, ReferenceOptions options, bool digest = true, bool twoSided = false)
    {
        if (input.Problem is not null)
        {
            return new ModelCheck(input, null, [], null, null, $"'{input.Path}': {input.Problem}");
        }

        ModelFormat? detected = null;
        var files = ImmutableArray<FileDigest>.Empty;
        try
        {
            ModelFile model;
            if (digest)
            {
                // Hashed first, so that a corrupt file is still identified by its digest.
                files = [.. DigestsOf([input.Path])];
                model = ModelFile.Open(input.Path, format);
                files = [files[0], .. DigestsOf(model.Parts.Skip(1))];
            }
            else
            {
                // Without hashes the lengths come from opening the model itself: one open fewer per file.
                model = OpenForLengths(input.Path, format, ref files);
                files = [new FileDigest(input.Path, null, model.PartLength(0)), .. model.Parts.Skip(1).Select((path, i) => new FileDigest(path, null, model.PartLength(i + 1)))];
            }

            detected = model.Format;
            if (reference is null)
            {
                var plain = keyring.Verify(model, alpha);
                return new ModelCheck(input, detected, files, twoSided ? plain.WithTwoSidedTest() : plain, null, null);
            }

            return new ModelCheck(input, detected, files, null, keyring.Verify(model, reference, alpha, options), null);
        }
        catch (WatermarkException e)
        {
            return new ModelCheck(input, detected, files, null, null, e.Message.ReplaceLineEndings(" "));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new ModelCheck(input, detected, files, null, null, $"'{input.Path}' cannot be read: {e.Message.ReplaceLineEndings(" ")}");
        }
    }

    // Opens the model; when it is unusable, the file's length is still looked up for the report (when it can be).
    private static ModelFile OpenForLengths(string path, ModelFormat? format, ref ImmutableArray<FileDigest> files)
    {
        try
        {
            return ModelFile.Open(path, format);
        }
        catch (WatermarkException)
        {
            try
            {
                files = [.. DigestsOf([path], hash: false)];
            }
            catch (Exception e) when (e is WatermarkException or IOException or UnauthorizedAccessException)
            {
                // Not even its length: the report says why the model is unusable, which is what counts.
            }

            throw;
        }
    }

    /// <summary>
    /// The SHA-256 of each file, read as a stream through the same checks as a model (regular files only); with
    /// <paramref name="hash"/> false only the checks and the length (nothing is read).
    /// </summary>
    public static IEnumerable<FileDigest> DigestsOf(IEnumerable<string> paths, bool hash = true)
    {
        foreach (var path in paths)
        {
            using var stream = InputFile.Open(path, problem => new ModelFormatException(path, problem), "not found; check the path.");
            yield return new FileDigest(path, hash ? Sha256(stream) : null, stream.Length);
        }
    }

    // Hashed a megabyte at a time: SHA256.HashData(stream) reads through the stream's 4 KB buffer, and a
    // syscall per 4 KB cost as much as the hashing itself (measured: 1,177 reads for a 4.6 MB file).
    private static string Sha256(Stream stream)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            int read;
            while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
            {
                sha.AppendData(buffer, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>The format's word, as <c>--format</c> takes it.</summary>
    public static string FormatWord(ModelFormat format) => format switch
    {
        ModelFormat.TorchSharpDat => "dat",
        ModelFormat.Safetensors => "safetensors",
        ModelFormat.PyTorchCheckpoint => "pytorch",
        _ => "onnx",
    };

    /// <summary>present, absent or unusable.</summary>
    public static string StatusWord(ModelStatus status) => status.ToString().ToLowerInvariant();

    /// <summary>One line of JSON Lines: path, format, sha256, size, status, then the verdict's fields (or the error).</summary>
    public void WriteJson(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteString("path", Input.Path);
        if (Format is { } known)
        {
            json.WriteString("format", FormatWord(known));
        }
        else
        {
            json.WriteNull("format");
        }

        if (Digest is { } digest)
        {
            if (digest.Sha256 is null)
            {
                json.WriteNull("sha256");
            }
            else
            {
                json.WriteString("sha256", digest.Sha256);
            }

            json.WriteNumber("size", digest.Length);
        }
        else
        {
            json.WriteNull("sha256");
        }

        json.WriteString("status", StatusWord(Status));
        if (Error is not null)
        {
            json.WriteString("error", Error);
        }
        else if (Aligned is not null)
        {
            VerdictJson.WriteFields(json, Aligned);
        }
        else
        {
            VerdictJson.WriteFields(json, Plain!, payload: true);
        }

        json.WriteEndObject();
    }

    /// <summary>The verdict in one sentence, e.g. for SARIF: "present: 64/64 bits, p = 1e-19 ≤ alpha = 1e-6".</summary>
    public string Summary()
    {
        if (Error is not null)
        {
            return $"unusable: {Error}";
        }

        var alpha = VerifyVerb.AlphaText(Verdict!.Alpha);
        if (Aligned is null)
        {
            var plain = Plain!;
            return $"{StatusWord(Status)}{(plain.IsInverted ? " (inverted: the bits are the key's complement)" : string.Empty)}: {Counts(plain)}, {(plain.IsTwoSided ? "two-sided p" : "p")} = {plain.PValue} {(plain.IsPresent ? "≤" : ">")} alpha = {alpha}";
        }

        var aligned = Aligned.Aligned;
        var plainPart = Aligned.Plain is { } before
            ? $"plain {Counts(before)}, p = {before.PValue} {(before.IsPresent ? "≤" : ">")} alpha = {alpha}"
            : $"plain verify unusable ({Aligned.PlainUnusable})";
        var alignedPart = Aligned.IsConfident
            ? string.Create(CultureInfo.InvariantCulture, $"aligned {Counts(aligned)} {(aligned.BitErrorRate <= Aligned.AlignedBitErrorRateBound ? "≤" : ">")} the calibrated bound {Aligned.AlignedBitErrorRateBound}")
            : $"aligned {Counts(aligned)}, alignment not confident";
        return $"{StatusWord(Status)}: {plainPart}; {alignedPart}";
    }

    private static string Counts(VerificationResult result) =>
        string.Create(CultureInfo.InvariantCulture, $"{result.Matched}/{result.Bits} bits, BER {result.BitErrorRate:0.000}");
}
