using System.Text;

namespace Watermark.Generators;

/// <summary>A minimal indented writer: generated text stays readable without SyntaxFactory and NormalizeWhitespace.</summary>
internal sealed class SourceWriter
{
    private readonly StringBuilder builder = new();
    private int depth;

    public void Line(string text = "")
    {
        if (text.Length > 0)
        {
            builder.Append(' ', depth * 4);
        }

        builder.Append(text).Append('\n');
    }

    public void Open(string header)
    {
        Line(header);
        Line("{");
        depth++;
    }

    public void Close(string suffix = "")
    {
        depth--;
        Line("}" + suffix);
    }

    public override string ToString() => builder.ToString();
}
