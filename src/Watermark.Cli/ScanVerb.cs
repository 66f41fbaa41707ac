using System;
using System.Collections.Generic;
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using Watermark.Formats;

namespace Watermark.Cli;

/// <summary><c>watermark scan</c>: which of many model files (folders, globs, a whole registry) carry the owner's mark?</summary>
internal static class ScanVerb
{
    public static Command Create(CliConsole console)
    {
        var paths = new Argument<string[]>("PATH")
        {
            Description = "Model files, folders (walked recursively; links to folders and hidden entries skipped) and globs ('models/**/*.safetensors', "
                + "expanded here when the shell did not). From folders and globs only files that look like models are taken; a file named here is always checked.",
            Arity = ArgumentArity.OneOrMore,
        };
        var key = VerifyVerb.KeyOption();
        var alpha = VerifyVerb.AlphaOption();
        var twoSided = VerifyVerb.TwoSidedOption();
        var format = WatermarkCommand.FormatOption("--format", "Read every file as this format instead of detecting it (header, then extension).");
        var reference = VerifyVerb.ReferenceOption();
        var referenceFormat = WatermarkCommand.FormatOption("--reference-format", "The reference's format when neither its header nor its extension tells.");
        var jobs = TypedOptions.Integer(
            "--jobs", ["-j"], "How many files are read at once (default: the number of processors). Output keeps the input order whatever this is.",
            "N", 1, 1024, "must be a whole number from 1 to 1024", Environment.ProcessorCount);
        var shard = new Option<Shard?>("--shard")
        {
            Description = "Check only shard I of N (0-based, 0 <= I < N): the files whose path hash (FNV-1a 64 of the path as reported) is I modulo N, "
                + "so N jobs of a CI matrix, Kubernetes indexed Job ($JOB_COMPLETION_INDEX) or Slurm array ($SLURM_ARRAY_TASK_ID) split the files with no scheduler.",
            HelpName = "I/N",
            CustomParser = ParseShard,
        };
        var output = TypedOptions.FilePath("--output", ["-o"], "Write the JSON Lines to this file (atomically, at the end) instead of stdout.", "FILE", required: false);
        var sarif = TypedOptions.FilePath("--sarif", [], "Also write a SARIF 2.1.0 log (one result per model: WM001 present, WM002 absent, WM003 unusable).", "FILE", required: false);
        var attestations = TypedOptions.FilePath(
            "--attestations", [], "Write an in-toto Statement v1 of each usable model's verdict into this folder, named after its path ('models/a.pt' → 'models%2Fa.pt.intoto.json').",
            "DIR", required: false);
        var noDigest = new Option<bool>("--no-digest")
        {
            Description = "Skip the SHA-256 of every file and read only what the check needs (headers and host tensors): much faster on large "
                + "models. The JSON lines' sha256 is then null and the SARIF artifacts have no hashes; --attestations needs the digests.",
        };
        var force = WatermarkCommand.ForceOption("--output, --sarif and attestation files");
        var command = new Command(
            "scan",
            "Checks many model files for the marks of a key file, in parallel, one JSON line per file. Exit code 0: every file carries the mark, "
            + "1: some do not (none unusable), 2: some are unusable or the arguments are bad, 3: no model file found (or the shard holds none).")
        {
            paths, key, alpha, twoSided, format, reference, referenceFormat, jobs, shard, output, sarif, attestations, noDigest, force,
        };
        command.SetGuardedAction(console, parsed =>
        {
            var replace = parsed.GetValue(force);
            var outputPath = parsed.GetValue(output);
            var sarifPath = parsed.GetValue(sarif);
            var attestationFolder = parsed.GetValue(attestations);
            if (outputPath is not null)
            {
                WatermarkCommand.CheckOutput(outputPath, replace, "--output");
            }

            if (sarifPath is not null)
            {
                WatermarkCommand.CheckOutput(sarifPath, replace, "--sarif");
            }

            if (attestationFolder is not null && File.Exists(attestationFolder))
            {
                throw new UsageException($"--attestations '{attestationFolder}' is a file; give a folder (it is created if missing).");
            }

            if (attestationFolder is not null && parsed.GetValue(noDigest))
            {
                throw new UsageException("--attestations needs the files' SHA-256 (an attestation's subject is the digest); leave out --no-digest.");
            }

            if (parsed.GetValue(reference) is not null && parsed.GetValue(twoSided))
            {
                throw new UsageException("--two-sided judges the plain reading; with --reference the aligned verdict rests on its calibrated bound. Give one or the other.");
            }

            if (parsed.GetValue(reference) is null && parsed.GetValue(referenceFormat) is not null)
            {
                throw new UsageException("--reference-format needs --reference ORIGINAL (the owner's marked model).");
            }

            var run = new ScanRun
            {
                Keyring = Keyring.Load(parsed.GetValue(key)!),
                Alpha = parsed.GetValue(alpha),
                TwoSided = parsed.GetValue(twoSided),
                Format = parsed.GetValue(format)?.Value,
                Jobs = parsed.GetValue(jobs),
                Shard = parsed.GetValue(shard),
                AttestationFolder = attestationFolder,
                Replace = replace,
                Digest = !parsed.GetValue(noDigest),
            };
            if (parsed.GetValue(reference) is { } referencePath)
            {
                run.Reference = ModelFile.Open(referencePath, parsed.GetValue(referenceFormat)?.Value);
                run.ReferenceDigest = ModelCheck.DigestsOf([referencePath]).Single();
            }

            return Scan(console, run, parsed.GetValue(paths)!, outputPath, sarifPath);
        });
        return command;
    }

    private static Shard? ParseShard(ArgumentResult result)
    {
        var parts = result.Tokens[0].Value.Split('/');
        return parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var index)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var count)
            && count >= 1 && index < count
                ? new Shard(index, count)
                : TypedOptions.Reject<Shard?>(result, "--shard", "takes I/N with 0 <= I < N (0-based, e.g. 0/4 ... 3/4)");
    }

    private static int Scan(CliConsole console, ScanRun run, string[] arguments, string? outputPath, string? sarifPath)
    {
        var clock = Stopwatch.StartNew();
        var currentFolder = Directory.GetCurrentDirectory();
        var unmatched = new List<string>();
        var inputs = ScanInputs.ExcludeParts(ScanInputs.Expand(arguments, currentFolder, unmatched), run.Format);
        foreach (var pattern in unmatched)
        {
            console.Error.WriteLine($"watermark: note: '{pattern}' matched no model file.");
        }

        var found = inputs.Count;
        if (run.Shard is { } shard)
        {
            inputs = [.. inputs.Where(i => shard.Takes(i.Path))];
        }

        if (inputs.Count == 0)
        {
            console.Error.WriteLine(found == 0
                ? $"watermark: no model file found in {string.Join(", ", arguments.Select(a => $"'{a}'"))} (extensions .dat, .bin, .safetensors, .onnx, .pt, .pth, .ckpt, *.safetensors.index.json, or safetensors/PyTorch content); exit code 3."
                : $"watermark: shard {run.Shard} holds none of the {found} model files found; exit code 3.");
            return ExitCodes.NoModels;
        }

        if (run.AttestationFolder is { } folder && !run.Replace
            && inputs.FirstOrDefault(i => File.Exists(Path.Combine(folder, Attestation.FileName(i.Path)))) is { } taken)
        {
            throw new UsageException($"--attestations: '{Path.Combine(folder, Attestation.FileName(taken.Path))}' already exists; pass --force to replace the attestations there, or choose another folder.");
        }

        var counts = new int[3];
        var exitCode = ExitCodes.Present;
        WithFile(outputPath, run.Replace, jsonLines => WithFile(sarifPath, run.Replace, sarifStream =>
        {
            using var sarif = sarifStream is null ? null : new SarifLog(sarifStream, currentFolder);
            var time = DateTimeOffset.UtcNow;
            OrderedParallel.Run(
                inputs,
                run.Jobs,
                input =>
                {
                    var check = ModelCheck.Run(input, run.Keyring, run.Format, run.Alpha, run.Reference, ReferenceOptions.Default, run.Digest, run.TwoSided);
                    if (run.AttestationFolder is { } attestationFolder && check.Status != ModelStatus.Unusable)
                    {
                        Attestation.Write(Path.Combine(attestationFolder, Attestation.FileName(input.Path)), check, run.ReferenceDigest, run.Replace, time);
                    }

                    return check;
                },
                check =>
                {
                    counts[(int)check.Status]++;
                    WriteLine(check, jsonLines, console.Out);
                    sarif?.Add(check);
                    if (check.Status == ModelStatus.Unusable)
                    {
                        console.Error.WriteLine($"watermark: unusable: {check.Error}");
                    }
                });
            exitCode = counts[(int)ModelStatus.Unusable] > 0 ? ExitCodes.Unusable
                : counts[(int)ModelStatus.Absent] > 0 ? ExitCodes.Absent
                : ExitCodes.Present;
            sarif?.Complete(exitCode);
        }));

        var seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-3);
        console.Error.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"scanned {inputs.Count} model file{(inputs.Count == 1 ? string.Empty : "s")}{(run.Shard is { } s ? $" (shard {s} of {found})" : string.Empty)} in {seconds:0.00} s ({inputs.Count / seconds:0.0} files/s): "
            + $"{counts[(int)ModelStatus.Present]} present, {counts[(int)ModelStatus.Absent]} absent, {counts[(int)ModelStatus.Unusable]} unusable."));
        return exitCode;
    }

    // JSON Lines: one compact object per line, to stdout (flushed per line, so a consumer sees each file as it is done) or to --output.
    private static void WriteLine(ModelCheck check, Stream? file, TextWriter stdout)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            check.WriteJson(json);
        }

        buffer.WriteByte((byte)'\n');
        if (file is not null)
        {
            buffer.Position = 0;
            buffer.CopyTo(file);
        }
        else
        {
            stdout.Write(Encoding.UTF8.GetString(buffer.ToArray()));
            stdout.Flush();
        }
    }

    // Runs body with a stream that becomes the file at the end (atomically: an interrupted scan leaves nothing there), or with null.
    private static void WithFile(string? path, bool replace, Action<Stream?> body)
    {
        if (path is null)
        {
            body(null);
            return;
        }

        AtomicFile.Write(path, body, ownerOnly: false, replace);
    }

    private sealed class ScanRun
    {
        public required Keyring Keyring { get; init; }

        public required double Alpha { get; init; }

        public required bool TwoSided { get; init; }

        public required ModelFormat? Format { get; init; }

        public required int Jobs { get; init; }

        public required Shard? Shard { get; init; }

        public required string? AttestationFolder { get; init; }

        public required bool Replace { get; init; }

        public required bool Digest { get; init; }

        public ModelFile? Reference { get; set; }

        public FileDigest? ReferenceDigest { get; set; }
    }
}
