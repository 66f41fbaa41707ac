namespace Watermark.Generators;

/// <summary>Names of the pipeline steps, so tests can prove an unrelated edit leaves them cached.</summary>
public static class TrackingNames
{
    /// <summary>Each member marked with <c>[Watermark]</c>, as an equatable model.</summary>
    public const string MarkedMembers = nameof(MarkedMembers);

    /// <summary>Each auto-property marked with <c>[field: Watermark]</c>, as an equatable model.</summary>
    public const string MarkedBackingFields = nameof(MarkedBackingFields);

    /// <summary>Marked members grouped by containing type.</summary>
    public const string MarkedTypes = nameof(MarkedTypes);
}
