using System;

namespace Watermark;

/// <summary>A watermark operation could not be carried out; the message names the slot or file and the fix.</summary>
public class WatermarkException : Exception
{
    /// <summary>Creates the exception.</summary>
    public WatermarkException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public WatermarkException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
