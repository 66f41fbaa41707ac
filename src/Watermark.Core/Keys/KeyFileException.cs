namespace Watermark;

/// <summary>A key file is missing, unreadable or malformed. The message names the file and the field; it never contains the secret.</summary>
public sealed class KeyFileException : WatermarkException
{
    /// <summary>Creates the exception.</summary>
    public KeyFileException(string filePath, string? field, string problem)
        : base(field is null ? $"Key file '{filePath}': {problem}" : $"Key file '{filePath}': {field}: {problem}")
    {
        FilePath = filePath;
        Field = field;
    }

    /// <summary>The key file.</summary>
    public string FilePath { get; }

    /// <summary>The JSON path of the offending field (e.g. <c>slots[0].bits</c>), or null for the whole file.</summary>
    public string? Field { get; }
}
