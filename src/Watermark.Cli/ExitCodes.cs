namespace Watermark.Cli;

/// <summary>
/// The exit codes a release pipeline can rely on: 0 = present (verify, and scan when every file carries the mark) or
/// done (every other verb), 1 = absent (verify; scan: some file lacks the mark and none is unusable), 2 = unusable input
/// or bad arguments (every verb; scan: any file unusable), 3 = scan found no model file. An error never reads as 0.
/// </summary>
public static class ExitCodes
{
    /// <summary>The command did what it was asked (keygen, extract, inspect, attack, convert, help).</summary>
    public const int Success = 0;

    /// <summary>The watermark is present: the combined p-value is at most alpha (verify; scan: in every file checked).</summary>
    public const int Present = 0;

    /// <summary>The watermark is absent: the combined p-value is above alpha (verify; scan: in at least one file, and no file was unusable).</summary>
    public const int Absent = 1;

    /// <summary>Unusable input: missing, corrupt, truncated, mismatched shape or slot, unknown format, bad arguments (scan: any one file).</summary>
    public const int Unusable = 2;

    /// <summary>
    /// scan found no model file to check: empty folders, globs that matched nothing, or a <c>--shard</c> that holds none of
    /// the files found. Not 0, so a wrong path or shard count never passes as "every model carries the mark".
    /// </summary>
    public const int NoModels = 3;
}
