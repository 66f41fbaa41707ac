namespace Watermark.Cli;

/// <summary>The exit codes a release pipeline can rely on.</summary>
public static class ExitCodes
{
    /// <summary>The watermark is present (verify), or the command succeeded.</summary>
    public const int Present = 0;

    /// <summary>The watermark is absent: the combined p-value is above alpha (verify only).</summary>
    public const int Absent = 1;

    /// <summary>Unusable input: missing, corrupt, truncated, mismatched shape or slot, unknown format, bad arguments.</summary>
    public const int Unusable = 2;
}
