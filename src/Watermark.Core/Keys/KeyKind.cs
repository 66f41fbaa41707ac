namespace Watermark;

/// <summary>How the secret key X ∈ R^{T×M} is built (Uchida et al. 2017, §3.3).</summary>
public enum KeyKind
{
    /// <summary>Each row of X has a single 1 at a random column; columns are not reused while T ≤ M.</summary>
    Direct,

    /// <summary>Each row of X has one +1 and one −1 at two distinct random columns.</summary>
    Diff,

    /// <summary>Every entry of X is drawn i.i.d. from N(0, 1); the paper's choice.</summary>
    Random,
}
