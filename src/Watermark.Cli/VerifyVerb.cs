using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using Watermark.Formats;

namespace Watermark.Cli;

/// <summary><c>watermark verify</c>: is the owner's mark in this copy of the model?</summary>
internal static class VerifyVerb
{
    public static Command Create(CliConsole console)
    {
        var model = WatermarkCommand.ModelOption("The model file to check: TorchSharp .dat, safetensors (a sharded model by its .safetensors.index.json) or ONNX (external data files are read from its folder).");
        var format = WatermarkCommand.FormatOption();
        var key = KeyOption();
        var json = new Option<bool>("--json") { Description = "Print one JSON object (present, pValue, alpha, bits, matched, ber, slots[]) instead of a table." };
        var alpha = AlphaOption();
        var reference = ReferenceOption();
        var referenceFormat = WatermarkCommand.FormatOption("--reference-format", "The reference's format when neither its header nor its extension tells.");
        var producer = new Option<string[]>("--producer")
        {
            Description = "With --reference: the conv and batch norm that feed a slot's input channels, as [SLOT=]CONV,NORM " +
                "(e.g. g2.block0.conv1.weight,g2.block0.bn2); merges copied dummy channels and makes matching more robust. Repeat per slot.",
            HelpName = "[SLOT=]CONV,NORM",
            Arity = ArgumentArity.ZeroOrMore,
        };
        EachValue(producer, v => ParseProducer(v) is not null, v => $"--producer takes [SLOT=]CONV,NORM (e.g. g2.block0.conv1.weight,g2.block0.bn2); '{v}' was given.");
        var foldNorm = new Option<string[]>("--fold-norm")
        {
            Description = "Read a slot's host folded with the batch norm right after it, as [SLOT=]NORM (e.g. layer3.1.bn1): each filter times " +
                "γ/√(σ²+ε), which scaling, sign-flipping and reordering the host's filters through that batch norm cannot change. No reference " +
                "needed, and the p-value stays the binomial one; check first that the unattacked model reads this way (docs/alignment.md). Repeat per slot.",
            HelpName = "[SLOT=]NORM",
            Arity = ArgumentArity.ZeroOrMore,
        };
        EachValue(foldNorm, v => ParseFold(v) is not null, v => $"--fold-norm takes [SLOT=]NORM, the batch norm's prefix (e.g. layer3.1.bn1); '{v}' was given.");
        var twoSided = TwoSidedOption();
        var attestation = TypedOptions.FilePath(
            "--attestation", [], "Also write the verdict as an in-toto Statement v1 (subject: the model's SHA-256; no key material) for cosign or a DSSE signer. Not written for unusable input.",
            "FILE", required: false);
        var force = WatermarkCommand.ForceOption("the --attestation file");
        var command = new Command(
            "verify",
            "Checks a model file for the marks of a key file. Exit code 0: present, 1: absent, 2: unusable input (the reason goes to stderr).")
        {
            model, format, key, json, alpha, twoSided, reference, referenceFormat, producer, foldNorm, attestation, force,
        };
        command.SetGuardedAction(console, parsed =>
        {
            if (parsed.GetValue(attestation) is { } statementPath)
            {
                WatermarkCommand.CheckOutput(statementPath, parsed.GetValue(force), "--attestation");
            }

            var producers = (parsed.GetValue(producer) ?? []).Select(p => ParseProducer(p)!.Value).ToList();
            var folds = (parsed.GetValue(foldNorm) ?? []).Select(f => ParseFold(f)!.Value).ToList();
            if (parsed.GetValue(reference) is not { } referencePath)
            {
                if (producers.Count > 0 || parsed.GetValue(referenceFormat) is not null)
                {
                    throw new UsageException("--producer and --reference-format need --reference ORIGINAL (the owner's marked model).");
                }

                var keyring = Keyring.Load(parsed.GetValue(key)!);
                var norms = BySlot(keyring, folds, "--fold-norm", "SLOT=NORM");
                var checkedModel = WatermarkCommand.OpenModel(parsed, model, format);
                var result = norms.Count == 0 ? keyring.Verify(checkedModel, parsed.GetValue(alpha)) : keyring.Verify(checkedModel, norms, parsed.GetValue(alpha));
                result = parsed.GetValue(twoSided) ? result.WithTwoSidedTest() : result;
                Attest(parsed, attestation, force, checkedModel, result, null, null, norms);
                console.Out.Write(parsed.GetValue(json) ? ToJson(result, norms) : ToTable(result, norms));
                return result.IsPresent ? ExitCodes.Present : ExitCodes.Absent;
            }

            if (parsed.GetValue(twoSided))
            {
                throw new UsageException("--two-sided judges the plain reading; with --reference the aligned verdict rests on its calibrated bound (the alignment undoes sign flips itself). Give one or the other.");
            }

            if (folds.Count > 0)
            {
                throw new UsageException("--fold-norm reads the suspect alone; with --reference the alignment undoes the same transforms. Give one or the other.");
            }

            var ring = Keyring.Load(parsed.GetValue(key)!);
            var options = new ReferenceOptions { Producers = BySlot(ring, producers, "--producer", "SLOT=CONV,NORM") };
            var suspect = WatermarkCommand.OpenModel(parsed, model, format);
            var original = ModelFile.Open(referencePath, parsed.GetValue(referenceFormat)?.Value);
            var aligned = ring.Verify(suspect, original, parsed.GetValue(alpha), options);
            Attest(parsed, attestation, force, suspect, null, aligned, referencePath);
            console.Out.Write(parsed.GetValue(json) ? ToJson(aligned) : ToTable(aligned));
            return aligned.IsPresent ? ExitCodes.Present : ExitCodes.Absent;
        });
        return command;
    }

    // --attestation FILE: the statement of a usable verdict, written before the verdict is printed so that a failed write reads as exit 2.
    private static void Attest(ParseResult parsed, Option<string> attestation, Option<bool> force, ModelFile model, VerificationResult? plain, ReferenceVerificationResult? aligned, string? referencePath, IReadOnlyDictionary<string, string>? folds = null)
    {
        if (parsed.GetValue(attestation) is not { } path)
        {
            return;
        }

        var input = new ScanInput(Path.GetFullPath(model.Source), model.Source, Explicit: true);
        var check = new ModelCheck(input, model.Format, [.. ModelCheck.DigestsOf(ScanInputs.ModelParts(model.Source, model.Format))], plain, aligned, null) { Folds = folds is { Count: > 0 } ? folds : null };
        var reference = referencePath is null ? null : ModelCheck.DigestsOf([referencePath]).Single();
        Attestation.Write(path, check, reference, parsed.GetValue(force), DateTimeOffset.UtcNow);
    }

    // A validator that refuses each value of a repeated option that is not well formed, before any file is opened.
    private static void EachValue(Option<string[]> option, Func<string, bool> valid, Func<string, string> error) =>
        option.Validators.Add(result =>
        {
            foreach (var value in result.Tokens.Select(t => t.Value).Where(v => !valid(v)))
            {
                result.AddError(error(value));
            }
        });

    // [SLOT=]CONV,NORM → (slot or null, producer); null when malformed.
    private static (string? Slot, ProducerNames Names)? ParseProducer(string value)
    {
        var equals = value.IndexOf('=', StringComparison.Ordinal);
        var slot = equals >= 0 ? value[..equals] : null;
        var parts = value[(equals + 1)..].Split(',');
        return parts.Length == 2 && parts.All(p => p.Length > 0) && slot is not { Length: 0 }
            ? (slot, new ProducerNames(parts[0], parts[1]))
            : null;
    }

    // [SLOT=]NORM → (slot or null, norm); null when malformed.
    private static (string? Slot, string Norm)? ParseFold(string value)
    {
        var equals = value.IndexOf('=', StringComparison.Ordinal);
        var slot = equals >= 0 ? value[..equals] : null;
        var norm = value[(equals + 1)..];
        return norm.Length > 0 && !norm.Contains(',', StringComparison.Ordinal) && !norm.Contains('=', StringComparison.Ordinal) && slot is not { Length: 0 }
            ? (slot, norm)
            : null;
    }

    // Each value under its slot's name: a value without SLOT= belongs to the only slot of a one-slot key file.
    private static Dictionary<string, T> BySlot<T>(Keyring keyring, List<(string? Slot, T Value)> given, string option, string form)
    {
        var bySlot = new Dictionary<string, T>(StringComparer.Ordinal);
        foreach (var (slot, value) in given)
        {
            var name = slot ?? (keyring.Slots.Length == 1
                ? keyring.Slots[0].Parameter
                : throw new UsageException($"The key file has {keyring.Slots.Length} slots: name the slot of each {option} as {form}."));
            if (!keyring.Slots.Any(s => s.Parameter == name))
            {
                throw new UsageException($"{option} names slot '{name}', which the key file does not have; its slots are {string.Join(", ", keyring.Slots.Select(s => $"'{s.Parameter}'"))}.");
            }

            if (!bySlot.TryAdd(name, value))
            {
                throw new UsageException($"{option} is given twice for slot '{name}'.");
            }
        }

        return bySlot;
    }

    private static string ToTable(ReferenceVerificationResult result)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"reference: {result.Reference.Matched}/{result.Reference.Bits} bits, p = {result.Reference.PValue} {(result.ReferenceCarriesMark ? "(it carries the mark)" : "(it does NOT carry this key's mark: nothing aligned to it can show the mark)")}");
        text.AppendLine(result.Plain is { } plain
            ? FormattableString.Invariant($"plain:     {plain.Matched}/{plain.Bits} bits, BER {plain.BitErrorRate:0.000}, p = {plain.PValue} → {(plain.IsPresent ? "present" : "absent")}")
            : $"plain:     the key cannot be applied as the file is ({result.PlainUnusable})");
        // Aligning pulls any model's bits towards the reference's mark (docs/alignment.md, "Null after alignment":
        // untrained WRNs reach p = 1e-17 after alignment): no p-value without a confident alignment, and with one
        // the binomial p is shown as such while the verdict rests on the calibrated BER bound.
        text.AppendLine(result.IsConfident
            ? FormattableString.Invariant($"aligned:   {result.Aligned.Matched}/{result.Aligned.Bits} bits, BER {result.Aligned.BitErrorRate:0.000}, binomial p = {result.Aligned.PValue} (not a valid bound after alignment; the verdict uses the calibrated BER bound {result.AlignedBitErrorRateBound})")
            : FormattableString.Invariant($"aligned:   {result.Aligned.Matched}/{result.Aligned.Bits} bits, BER {result.Aligned.BitErrorRate:0.000}, no p-value (not counted: the alignment is not confident, and aligning an unrelated model to the marked reference biases its bits towards the mark)"));
        foreach (var (slot, alignment) in result.Aligned.Slots.Zip(result.Alignments))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"alignment of {slot.Parameter}:");
            foreach (var line in alignment.ToString().Split('\n'))
            {
                text.AppendLine("  " + line);
            }
        }

        var verdict = result.IsPresent
            ? (result.Plain?.IsPresent == true
                ? FormattableString.Invariant($"PRESENT: p = {result.Plain.PValue} ≤ alpha = {AlphaText(result.Aligned.Alpha)}")
                : FormattableString.Invariant($"PRESENT after a confident alignment: aligned BER {result.Aligned.BitErrorRate:0.000} ≤ {result.AlignedBitErrorRateBound}, a calibrated bound rather than the binomial one (half the lowest BER of 60 models and layers that never saw the key, aligned to a marked reference: docs/alignment.md)"))
            : !result.ReferenceCarriesMark
                ? FormattableString.Invariant($"absent: the reference does not carry this key's mark, so the aligned bits cannot count{(result.Plain is null ? string.Empty : " and the plain check is absent")}; if the key is the owner's, give the original marked model as --reference, or check that the key file belongs to it")
            : result.IsConfident && result.Aligned.IsPresent
                ? FormattableString.Invariant($"absent: aligned BER {result.Aligned.BitErrorRate:0.000} > {result.AlignedBitErrorRateBound}, the calibrated bound for aligned bits (the binomial p is not valid after alignment: docs/alignment.md)")
                : FormattableString.Invariant($"absent: no p-value at most alpha = {AlphaText(result.Aligned.Alpha)}{(result.IsConfident ? string.Empty : " (the aligned bits count only after a confident alignment)")}");
        text.AppendLine(CultureInfo.InvariantCulture, $"verdict: {verdict}");
        foreach (var slot in result.Aligned.Slots)
        {
            if (slot.Payload is { } payload && result.IsConfident && result.ReferenceCarriesMark)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"message: {(result.Aligned.Slots.Length > 1 ? $"{slot.Parameter}: " : string.Empty)}{payload}");
            }
        }

        return text.ToString();
    }

    private static string ToJson(ReferenceVerificationResult result) => VerdictJson.Document(json => VerdictJson.WriteFields(json, result));

    internal static Option<double> AlphaOption() => TypedOptions.Real(
        "--alpha",
        "The false-positive bound: 'present' when the combined p-value is at most this. The default 1e-6 means a model " +
        "that never saw the key is flagged at most once in a million checks, while a 256-bit mark still clears it with up to ~35% of its bits flipped.",
        "P",
        p => p > 0 && p < 1,
        "must lie strictly between 0 and 1 (e.g. 1e-6)",
        VerificationResult.DefaultAlpha);

    internal static Option<bool> TwoSidedOption() => new("--two-sided")
    {
        Description = "Judge the bits with the two-sided test: present when they match the key or its complement far beyond chance " +
            "(p = 2·min of the two tails, so alpha still bounds false positives). Finds a mark an adversary inverted, e.g. by the toolbox's weight " +
            "shifting, which negates the filter means; reported as 'inverted'. Choose it before looking at the result.",
    };

    internal static Option<string> ReferenceOption() => TypedOptions.FilePath(
        "--reference",
        [],
        "The owner's original marked model. The suspect's host layers are then also aligned to it (channel permutations, scales, " +
        "signs and dummy channels undone, looking at weights only, never at the key) and read again; docs/alignment.md says what this proves.",
        "FILE",
        required: false);

    internal static Option<string> KeyOption() => TypedOptions.FilePath(
        "--key", ["-k"], "The key file written by 'watermark keygen' (or Keyring.Save). Keep it secret.", "KEY.json");

    internal static string AlphaText(double alpha) => alpha.ToString("0.##e0", CultureInfo.InvariantCulture);

    private static string ToTable(VerificationResult result, IReadOnlyDictionary<string, string> folds)
    {
        var width = Math.Max(8, result.Slots.Max(s => s.Parameter.Length));
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{"slot".PadRight(width)}  {"bits",6}  {"matched",7}  {"BER",6}  {(result.IsTwoSided ? "two-sided p-value" : "p-value")}");
        foreach (var slot in result.Slots)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"{slot.Parameter.PadRight(width)}  {slot.Bits,6}  {slot.Matched,7}  {slot.BitErrorRate,6:0.000}  {(result.IsTwoSided ? PValue.BinomialTwoSided(slot.Bits, slot.Matched) : slot.PValue)}");
        }

        if (result.Slots.Length > 1)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"{"combined".PadRight(width)}  {result.Bits,6}  {result.Matched,7}  {result.BitErrorRate,6:0.000}  {result.PValue}");
        }

        foreach (var (slot, norm) in folds)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"read folded: {slot}, each filter times γ/√(σ²+ε) of '{norm}' (scaling, flipping and reordering its filters through that batch norm cannot move these bits)");
        }

        var test = result.IsTwoSided ? "two-sided p" : "p";
        var verdict = result.IsInverted
            ? $"PRESENT, inverted: {result.Matched}/{result.Bits} bits match, so the bits are the key's complement far beyond chance (an adversary negated the filter means): {test} = {result.PValue} ≤ alpha = {AlphaText(result.Alpha)}"
            : result.IsPresent
            ? $"PRESENT: {test} = {result.PValue} ≤ alpha = {AlphaText(result.Alpha)}"
            : $"absent: {test} = {result.PValue} > alpha = {AlphaText(result.Alpha)}";
        text.AppendLine(CultureInfo.InvariantCulture, $"verdict: {verdict}");
        foreach (var slot in result.Slots)
        {
            if (slot.Payload is { } payload)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"message: {(result.Slots.Length > 1 ? $"{slot.Parameter}: " : string.Empty)}{payload}");
            }
        }

        return text.ToString();
    }

    private static string ToJson(VerificationResult result, IReadOnlyDictionary<string, string> folds) => VerdictJson.Document(json => VerdictJson.WriteFields(json, result, payload: true, folds));
}
