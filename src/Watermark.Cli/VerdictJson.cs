using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;

namespace Watermark.Cli;

/// <summary>
/// The verdict as JSON, one writer for <c>verify --json</c>, each line of <c>scan</c>'s JSON Lines and the predicate of
/// an attestation, so the field names stay the same everywhere. Written with <see cref="Utf8JsonWriter"/> (no
/// reflection, so NativeAOT and trimming keep it).
/// </summary>
internal static class VerdictJson
{
    /// <summary>An indented JSON document holding one object, whose fields <paramref name="fields"/> writes; ends with a newline.</summary>
    public static string Document(Action<Utf8JsonWriter> fields)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            fields(json);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray()) + Environment.NewLine;
    }

    /// <summary>
    /// present, pValue, log10PValue, alpha, bits, matched, ber (then twoSided and inverted when judged two-sided) and slots[] of {name, bits, matched, ber, pValue, and foldedWith
    /// when read folded with a batch norm (<paramref name="folds"/>)};
    /// with <paramref name="payload"/> each slot's message read back too (never in what is meant to be published).
    /// </summary>
    public static void WriteFields(Utf8JsonWriter json, VerificationResult result, bool payload, IReadOnlyDictionary<string, string>? folds = null)
    {
        json.WriteBoolean("present", result.IsPresent);
        WritePValue(json, result.PValue);
        json.WriteNumber("alpha", result.Alpha);
        json.WriteNumber("bits", result.Bits);
        json.WriteNumber("matched", result.Matched);
        json.WriteNumber("ber", result.BitErrorRate);
        if (result.IsTwoSided)
        {
            json.WriteBoolean("twoSided", true);
            json.WriteBoolean("inverted", result.IsInverted);
        }

        json.WriteStartArray("slots");
        foreach (var slot in result.Slots)
        {
            json.WriteStartObject();
            json.WriteString("name", slot.Parameter);
            json.WriteNumber("bits", slot.Bits);
            json.WriteNumber("matched", slot.Matched);
            json.WriteNumber("ber", slot.BitErrorRate);
            WritePValue(json, result.IsTwoSided ? PValue.BinomialTwoSided(slot.Bits, slot.Matched) : slot.PValue);
            if (folds is not null && folds.TryGetValue(slot.Parameter, out var norm))
            {
                json.WriteString("foldedWith", norm);
            }

            if (payload && slot.Payload is { } readback)
            {
                WritePayload(json, readback);
            }

            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    /// <summary>present, confident, alignedBerBound, alpha, then reference, plain and aligned verdicts, and alignments[] (counts only).</summary>
    public static void WriteFields(Utf8JsonWriter json, ReferenceVerificationResult result)
    {
        json.WriteBoolean("present", result.IsPresent);
        json.WriteBoolean("confident", result.IsConfident);
        json.WriteNumber("alignedBerBound", result.AlignedBitErrorRateBound);
        json.WriteNumber("alpha", result.Aligned.Alpha);
        json.WritePropertyName("reference");
        WriteVerdict(json, result.Reference);
        json.WritePropertyName("plain");
        if (result.Plain is { } plain)
        {
            WriteVerdict(json, plain);
        }
        else
        {
            json.WriteStartObject();
            json.WriteString("unusable", result.PlainUnusable);
            json.WriteEndObject();
        }

        json.WritePropertyName("aligned");
        WriteVerdict(json, result.Aligned);
        json.WriteStartArray("alignments");
        foreach (var (slot, a) in result.Aligned.Slots.Zip(result.Alignments))
        {
            json.WriteStartObject();
            json.WriteString("name", slot.Parameter);
            json.WriteBoolean("confident", a.IsConfident);
            json.WriteNumber("meanInputCosine", Math.Round(a.MeanInputCosine, 6));
            json.WriteNumber("meanOutputCosine", Math.Round(a.MeanOutputCosine, 6));
            json.WriteNumber("inputsMoved", a.InputsMoved);
            json.WriteNumber("outputsMoved", a.OutputsMoved);
            json.WriteNumber("signsFlipped", a.SignsFlipped);
            json.WriteNumber("mergedGroups", a.MergedGroups.Length);
            json.WriteNumber("droppedInputs", a.DroppedInputs.Length);
            json.WriteNumber("droppedOutputs", a.DroppedOutputs.Length);
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    /// <summary>
    /// The p-value: it can lie below double's range (1e-2466), so the number is written exactly as text, which JSON
    /// allows, and log10 alongside for readers whose parsers round it to 0.
    /// </summary>
    public static void WritePValue(Utf8JsonWriter json, PValue p)
    {
        json.WritePropertyName("pValue");
        json.WriteRawValue(p.ToString(), skipInputValidation: false);
        json.WriteNumber("log10PValue", Math.Round(p.Log10, 6));
    }

    private static void WriteVerdict(Utf8JsonWriter json, VerificationResult result)
    {
        json.WriteStartObject();
        json.WriteBoolean("present", result.IsPresent);
        WritePValue(json, result.PValue);
        json.WriteNumber("bits", result.Bits);
        json.WriteNumber("matched", result.Matched);
        json.WriteNumber("ber", result.BitErrorRate);
        json.WriteEndObject();
    }

    // The payload (what the mark says), apart from the verdict (whether a mark is there).
    private static void WritePayload(Utf8JsonWriter json, PayloadReadback payload)
    {
        json.WriteStartObject("payload");
        if (payload.Shown is { } shown)
        {
            json.WriteString("message", shown);
        }
        else
        {
            json.WriteNull("message");
        }

        json.WriteBoolean("exact", payload.IsExact);
        if (payload.Code is { } code)
        {
            json.WriteString("code", code.Name);
            json.WriteNumber("correctable", code.CorrectableErrors);
            json.WriteBoolean("decoded", !payload.IsRefused);
            if (payload.CorrectedBits is { } corrected)
            {
                json.WriteNumber("corrected", corrected);
            }
            else
            {
                json.WriteNull("corrected");
            }
        }
        else
        {
            json.WriteNull("code");
        }

        json.WriteEndObject();
    }
}
