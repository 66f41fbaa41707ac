using System.Globalization;
using System.IO;
using System.Text;

namespace Watermark.Cli;

/// <summary>
/// Everything the command prints goes through this writer, which shows control characters as escapes
/// (<c>\x1B</c>, <c>\u202E</c>) instead of passing them on: a tensor name or key field from a crafted
/// file could otherwise move the cursor, rewrite a verdict already printed ("absent\rPRESENT"), ring
/// the bell, set the window title, or reorder text with bidirectional overrides. Newlines and tabs pass.
/// </summary>
internal sealed class TerminalWriter : TextWriter
{
    private readonly TextWriter inner;

    public TerminalWriter(TextWriter inner)
        : base(CultureInfo.InvariantCulture)
    {
        this.inner = inner;
        CoreNewLine = ['\n']; // "\r" is escaped like any other control character
    }

    public override Encoding Encoding => inner.Encoding;

    public override void Write(char value)
    {
        if (IsUnsafe(value))
        {
            inner.Write(Escape(value));
        }
        else
        {
            inner.Write(value);
        }
    }

    public override void Write(string? value)
    {
        if (value is null)
        {
            return;
        }

        var clean = true;
        foreach (var c in value)
        {
            if (IsUnsafe(c))
            {
                clean = false;
                break;
            }
        }

        if (clean)
        {
            inner.Write(value);
            return;
        }

        var text = new StringBuilder(value.Length + 8);
        foreach (var c in value)
        {
            text.Append(IsUnsafe(c) ? Escape(c) : c.ToString());
        }

        inner.Write(text.ToString());
    }

    public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));

    public override void Flush() => inner.Flush();

    /// <summary>Whether a character must not reach a terminal as it is.</summary>
    internal static bool IsUnsafe(char c) =>
        (char.IsControl(c) && c is not ('\n' or '\t'))
        || c is '\u061C' or '\u200E' or '\u200F' or '\u2028' or '\u2029' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069');

    private static string Escape(char c) => c <= '\u00FF'
        ? string.Create(CultureInfo.InvariantCulture, $"\\x{(int)c:X2}")
        : string.Create(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
}
