namespace Watermark.Cli;

/// <summary>
/// The exit codes a release pipeline can rely on: 0 = present (verify) or done (every other verb),
/// 1 = absent (verify only), 2 = unusable input or bad arguments (every verb).
/// </summary>
public static class ExitCodes
{
    /// <summary>The command did what it was asked (keygen, extract, inspect, attack, convert, help).</summary>
    public const int Success = 0;

    /// <summary>The watermark is present: the combined p-value is at most alpha (verify).</summary>
    public const int Present = 0;

    /// <summary>The watermark is absent: the combined p-value is above alpha (verify only).</summary>
    public const int Absent = 1;

    /// <summary>Unusable input: missing, corrupt, truncated, mismatched shape or slot, unknown format, bad arguments.</summary>
    public const int Unusable = 2;
}
