namespace Watermark.Formats;

/// <summary>
/// A model file is missing, unreadable, malformed, truncated or of an unknown format. The message
/// names the file and what was wrong, and says what to do.
/// </summary>
public sealed class ModelFormatException : WatermarkException
{
    /// <summary>Creates the exception.</summary>
    public ModelFormatException(string filePath, string problem)
        : base($"Model file '{filePath}': {problem}")
    {
        FilePath = filePath;
    }

    /// <summary>The model file.</summary>
    public string FilePath { get; }
}
