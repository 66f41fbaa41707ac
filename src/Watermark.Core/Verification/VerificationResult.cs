using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;

namespace Watermark;

/// <summary>
/// The verdict over all slots of a keyring: per-slot results and the combined test. Slots use
/// independent seeds, so under the null hypothesis all Σ T bits are independent fair coins and the
/// combined p-value is P[Binomial(Σ T, ½) ≥ Σ k].
/// </summary>
public sealed class VerificationResult
{
    /// <summary>
    /// The default false-positive bound: a model that never saw the key is declared marked with
    /// probability at most one in a million. A 256-bit mark clears it up to a BER of about 35%.
    /// </summary>
    public const double DefaultAlpha = 1e-6;

    /// <summary>Combines slot results under a false-positive bound.</summary>
    public VerificationResult(IEnumerable<SlotVerification> slots, double alpha = DefaultAlpha)
    {
        ArgumentNullException.ThrowIfNull(slots);
        if (!(alpha > 0 && alpha < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "The false-positive bound alpha must lie in (0, 1), e.g. 1e-6.");
        }

        Slots = [.. slots];
        if (Slots.IsEmpty)
        {
            throw new ArgumentException("A verification needs at least one slot.", nameof(slots));
        }

        Alpha = alpha;
        Bits = Slots.Sum(s => s.Bits);
        Matched = Slots.Sum(s => s.Matched);
        PValue = PValue.BinomialUpperTail(Bits, Matched);
    }

    private VerificationResult(VerificationResult oneSided)
    {
        Slots = oneSided.Slots;
        Alpha = oneSided.Alpha;
        Bits = oneSided.Bits;
        Matched = oneSided.Matched;
        IsTwoSided = true;
        PValue = PValue.BinomialTwoSided(Bits, Matched);
    }

    /// <summary>
    /// The same bits judged by the two-sided test: present when they match the key's bits, or their complement, far
    /// beyond chance (p = 2·min(P[X ≥ Σk], P[X ≤ Σk]), so the false-positive bound stays <see cref="Alpha"/>). An adversary
    /// who negates the filter means (the toolbox's weight shifting subtracts 1.5 of them) leaves the mark inverted: the
    /// one-sided test calls that absent, this one finds it (<see cref="IsInverted"/>). Choose the test before looking at the bits.
    /// </summary>
    public VerificationResult WithTwoSidedTest() => IsTwoSided ? this : new VerificationResult(this);

    /// <summary>Whether <see cref="PValue"/> is the two-sided one (<see cref="WithTwoSidedTest"/>).</summary>
    public bool IsTwoSided { get; }

    /// <summary>Present by the two-sided test because the bits match the key's complement: the mark is there, inverted.</summary>
    public bool IsInverted => IsTwoSided && IsPresent && 2 * Matched < Bits;

    /// <summary>Per-slot results, in keyring order.</summary>
    public ImmutableArray<SlotVerification> Slots { get; }

    /// <summary>The false-positive bound of the verdict.</summary>
    public double Alpha { get; }

    /// <summary>Σ T over the slots.</summary>
    public int Bits { get; }

    /// <summary>Σ k over the slots.</summary>
    public int Matched { get; }

    /// <summary>Combined bit error rate.</summary>
    public double BitErrorRate => (double)(Bits - Matched) / Bits;

    /// <summary>The combined p-value (one-sided unless <see cref="IsTwoSided"/>).</summary>
    public PValue PValue { get; }

    /// <summary>The verdict: the combined p-value is at most alpha.</summary>
    public bool IsPresent => PValue.IsAtMost(Alpha);

    /// <inheritdoc/>
    public override string ToString() =>
        FormattableString.Invariant($"{(IsPresent ? IsInverted ? "present, inverted" : "present" : "absent")}: {Matched}/{Bits} bits, BER {BitErrorRate:0.000}, {(IsTwoSided ? "two-sided " : string.Empty)}p = {PValue} (alpha {Alpha.ToString("0.##e0", System.Globalization.CultureInfo.InvariantCulture)})");
}
