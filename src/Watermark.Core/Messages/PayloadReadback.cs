using System;
using System.Text;

namespace Watermark;

/// <summary>
/// What the weights say the owner's message is: the zero-bit verdict (is a mark there?) is computed
/// on the raw bits; this is the payload (what does it say?), read from the decoded ones.
/// </summary>
public sealed class PayloadReadback
{
    private readonly int repetitions;

    internal PayloadReadback(WatermarkKey key, byte[]? bytes, int? corrected)
    {
        Code = key.Code;
        Expected = key.Message;
        Bytes = bytes;
        CorrectedBits = corrected;
        IsExact = bytes is not null && bytes.AsSpan().SequenceEqual(key.Message.Bytes);
        repetitions = key.Bits / Math.Max(1, key.Code?.Length ?? key.Message.BitLength);
    }


    /// <summary>The code the message was embedded with, or null (repetition and majority vote).</summary>
    public BchCode? Code { get; }

    /// <summary>The key's message, which the payload should spell.</summary>
    public Message Expected { get; }

    /// <summary>The message read back, or null when the code refused: more bits were wrong than it corrects.</summary>
    public byte[]? Bytes { get; }

    /// <summary>How many bits the code corrected; null without a code or when it refused.</summary>
    public int? CorrectedBits { get; }

    /// <summary>Whether the code refused to decode (too many wrong bits to locate).</summary>
    public bool IsRefused => Bytes is null;

    /// <summary>Whether the message read back is exactly the key's message.</summary>
    public bool IsExact { get; }

    /// <summary>The message read back as printable text (or hex for a byte message); null when refused.</summary>
    public string? Shown => Bytes is null ? null
        : Expected.Encoding == MessageEncoding.Text ? Printable(new UTF8Encoding(false, false).GetString(Bytes))
        : Convert.ToHexStringLower(Bytes);

    /// <summary>One line, e.g. <c>"(c) ACME" read back exactly; BCH(252, 160) corrected 3 of up to 12 wrong bits</c>.</summary>
    public override string ToString()
    {
        if (Code is null)
        {
            return $"{Quoted} (majority vote over {repetitions} repetition{(repetitions == 1 ? string.Empty : "s")}; {(IsExact ? "equals" : "differs from")} the key's message)";
        }

        if (Bytes is null)
        {
            return $"not decoded: more bits are wrong than {Code.Name} corrects ({Code.CorrectableErrors}), so no message is claimed";
        }

        return IsExact
            ? $"{Quoted} read back exactly; {Code.Name} corrected {CorrectedBits} of up to {Code.CorrectableErrors} wrong bits"
            : $"{Quoted} decoded by {Code.Name} ({CorrectedBits} bits corrected) but differs from the key's message: more bits were wrong than it corrects";
    }

    private string Quoted => Expected.Encoding == MessageEncoding.Text ? $"\"{Shown}\"" : Shown!;

    private static string Printable(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            builder.Append(char.IsControl(c) ? '?' : c);
        }

        return builder.ToString();
    }
}
