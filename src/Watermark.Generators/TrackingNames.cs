namespace Watermark.Generators;

/// <summary>Names of the pipeline steps, so tests can prove an unrelated edit leaves them cached.</summary>
public static class TrackingNames
{
    /// <summary>Each marked member, as an equatable model.</summary>
    public const string MarkedMembers = nameof(MarkedMembers);

    /// <summary>Marked members grouped by containing type.</summary>
    public const string MarkedTypes = nameof(MarkedTypes);
}
