using System;
using System.CommandLine;
using System.Globalization;
using System.Linq;
using System.Text;

namespace Watermark.Cli;

/// <summary><c>watermark extract</c>: the bits a model carries, the message they spell, and the histogram of σ(Xw).</summary>
internal static class ExtractVerb
{
    private const int HistogramBins = 10;
    private const int BarWidth = 40;

    public static Command Create(CliConsole console)
    {
        var model = WatermarkCommand.ModelOption("The model file to read: TorchSharp .dat, safetensors (a sharded model by its .safetensors.index.json) or ONNX (external data files are read from its folder).");
        var format = WatermarkCommand.FormatOption();
        var key = VerifyVerb.KeyOption();
        var command = new Command(
            "extract",
            "Reads each slot's bits b̂ = [Xw ≥ 0] from a model file, the message they spell (majority vote over its repetitions), " +
            "and a text histogram of y = σ(Xw): a marked model piles up near 0 and 1, an unmarked one around 0.5.")
        {
            model, format, key,
        };
        command.SetGuardedAction(console, parsed =>
        {
            var keyring = Keyring.Load(parsed.GetValue(key)!);
            var result = keyring.Verify(WatermarkCommand.OpenModel(parsed, model, format));
            foreach (var slot in result.Slots)
            {
                console.Out.Write(Describe(keyring.Find(slot.Parameter)!, slot));
            }

            return ExitCodes.Success;
        });
        return command;
    }

    internal static string Describe(WatermarkKey key, SlotVerification slot)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"slot     {slot.Parameter} {Capacity.ShapeText(key.Shape)}: T = {key.Bits}, M = {key.FilterMeanLength}, {key.Kind.ToString().ToLowerInvariant()} key");
        text.AppendLine(CultureInfo.InvariantCulture, $"matched  {slot.Matched}/{slot.Bits} bits, BER {slot.BitErrorRate:0.000}, p = {slot.PValue}");
        text.AppendLine("bits     (as embedded, b̂ = [Xw ≥ 0])");
        var bits = slot.ExtractedBits;
        for (var line = 0; line < bits.Length; line += 64)
        {
            var row = new StringBuilder("  ");
            for (var j = line; j < Math.Min(bits.Length, line + 64); j++)
            {
                if (j > line && j % 8 == 0)
                {
                    row.Append(' ');
                }

                row.Append(bits[j] ? '1' : '0');
            }

            text.AppendLine(row.ToString());
        }

        text.AppendLine(CultureInfo.InvariantCulture, $"message  {RecoveredMessage(slot)}");
        text.AppendLine("σ(Xw)    histogram");
        var counts = new int[HistogramBins];
        foreach (var y in slot.Projection)
        {
            var sigma = 1.0 / (1.0 + Math.Exp(-y));
            counts[Math.Min(HistogramBins - 1, (int)(sigma * HistogramBins))]++;
        }

        var most = Math.Max(1, counts.Max());
        for (var b = 0; b < HistogramBins; b++)
        {
            var bar = new string('#', (int)Math.Round((double)counts[b] * BarWidth / most));
            text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"  [{(double)b / HistogramBins:0.0}, {(double)(b + 1) / HistogramBins:0.0}{(b == HistogramBins - 1 ? ']' : ')')}  {counts[b],5}  {bar}").TrimEnd());
        }

        text.AppendLine();
        return text.ToString();
    }

    private static string RecoveredMessage(SlotVerification slot)
    {
        if (slot.Payload is not { } payload)
        {
            var ones = slot.MessageBits.Count(b => b);
            return $"all ones expected; {ones} of {slot.Bits} bits read as 1";
        }

        return payload.ToString();
    }
}
