using System;
using System.CommandLine;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;

namespace Watermark.Cli;

/// <summary><c>watermark verify</c>: is the owner's mark in this copy of the model?</summary>
internal static class VerifyVerb
{
    public static Command Create(CliConsole console)
    {
        var model = WatermarkCommand.ModelOption("The model file to check: TorchSharp .dat, safetensors or ONNX.");
        var format = WatermarkCommand.FormatOption();
        var key = KeyOption();
        var json = new Option<bool>("--json") { Description = "Print one JSON object (present, pValue, alpha, bits, matched, ber, slots[]) instead of a table." };
        var alpha = TypedOptions.Real(
            "--alpha",
            "The false-positive bound: 'present' when the combined p-value is at most this. The default 1e-6 means a model " +
            "that never saw the key is flagged at most once in a million checks, while a 256-bit mark still clears it with up to ~35% of its bits flipped.",
            "P",
            p => p > 0 && p < 1,
            "must lie strictly between 0 and 1 (e.g. 1e-6)",
            VerificationResult.DefaultAlpha);
        var command = new Command(
            "verify",
            "Checks a model file for the marks of a key file. Exit code 0: present, 1: absent, 2: unusable input (the reason goes to stderr).")
        {
            model, format, key, json, alpha,
        };
        command.SetGuardedAction(console, parsed =>
        {
            var keyring = Keyring.Load(parsed.GetValue(key)!);
            var result = keyring.Verify(WatermarkCommand.OpenModel(parsed, model, format), parsed.GetValue(alpha));
            console.Out.Write(parsed.GetValue(json) ? ToJson(result) : ToTable(result));
            return result.IsPresent ? ExitCodes.Present : ExitCodes.Absent;
        });
        return command;
    }

    internal static Option<string> KeyOption() => TypedOptions.FilePath(
        "--key", ["-k"], "The key file written by 'watermark keygen' (or Keyring.Save). Keep it secret.", "KEY.json");

    internal static string AlphaText(double alpha) => alpha.ToString("0.##e0", CultureInfo.InvariantCulture);

    private static string ToTable(VerificationResult result)
    {
        var width = Math.Max(8, result.Slots.Max(s => s.Parameter.Length));
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{"slot".PadRight(width)}  {"bits",6}  {"matched",7}  {"BER",6}  p-value");
        foreach (var slot in result.Slots)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"{slot.Parameter.PadRight(width)}  {slot.Bits,6}  {slot.Matched,7}  {slot.BitErrorRate,6:0.000}  {slot.PValue}");
        }

        if (result.Slots.Length > 1)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"{"combined".PadRight(width)}  {result.Bits,6}  {result.Matched,7}  {result.BitErrorRate,6:0.000}  {result.PValue}");
        }

        var verdict = result.IsPresent
            ? $"PRESENT: p = {result.PValue} ≤ alpha = {AlphaText(result.Alpha)}"
            : $"absent: p = {result.PValue} > alpha = {AlphaText(result.Alpha)}";
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

    private static string ToJson(VerificationResult result)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteBoolean("present", result.IsPresent);
            WritePValue(json, result.PValue);
            json.WriteNumber("alpha", result.Alpha);
            json.WriteNumber("bits", result.Bits);
            json.WriteNumber("matched", result.Matched);
            json.WriteNumber("ber", result.BitErrorRate);
            json.WriteStartArray("slots");
            foreach (var slot in result.Slots)
            {
                json.WriteStartObject();
                json.WriteString("name", slot.Parameter);
                json.WriteNumber("bits", slot.Bits);
                json.WriteNumber("matched", slot.Matched);
                json.WriteNumber("ber", slot.BitErrorRate);
                WritePValue(json, slot.PValue);
                if (slot.Payload is { } payload)
                {
                    WritePayload(json, payload);
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray()) + Environment.NewLine;
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

    // p can lie below double's range (1e-2466): the number is written exactly as text, which JSON allows,
    // and log10 alongside for readers whose parsers round it to 0.
    private static void WritePValue(Utf8JsonWriter json, PValue p)
    {
        json.WritePropertyName("pValue");
        json.WriteRawValue(p.ToString(), skipInputValidation: false);
        json.WriteNumber("log10PValue", Math.Round(p.Log10, 6));
    }
}
