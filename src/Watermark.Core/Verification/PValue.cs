using System;
using System.Globalization;

namespace Watermark;

/// <summary>
/// A probability kept as its natural logarithm, so tails far below double's range (2^−8192 is
/// 10^−2466) stay exact and never print as 0.
/// </summary>
public readonly struct PValue : IComparable<PValue>, IEquatable<PValue>
{
    private static readonly double Ln10 = Math.Log(10);

    private PValue(double naturalLog) => NaturalLog = Math.Min(0.0, naturalLog);

    /// <summary>ln p (≤ 0).</summary>
    public double NaturalLog { get; }

    /// <summary>log₁₀ p (≤ 0).</summary>
    public double Log10 => NaturalLog / Ln10;

    /// <summary>p as a double; 0 when p is below double's range (use <see cref="Log10"/> or <see cref="ToString()"/> then).</summary>
    public double Value => Math.Exp(NaturalLog);

    /// <summary>A p-value from its natural logarithm.</summary>
    public static PValue FromNaturalLog(double naturalLog)
    {
        if (double.IsNaN(naturalLog))
        {
            throw new ArgumentOutOfRangeException(nameof(naturalLog), "ln p is NaN.");
        }

        return new PValue(naturalLog);
    }

    /// <summary>
    /// The two-sided 2·min(P[X ≥ k], P[X ≤ k]) for X ~ Binomial(<paramref name="trials"/>, ½) and k =
    /// <paramref name="successes"/>, at most 1: under the null both tails are alike, so either one crossing α/2
    /// happens with probability at most α — a mark read as its complement counts as much as one read as it is.
    /// </summary>
    public static PValue BinomialTwoSided(int trials, int successes)
    {
        var tail = Math.Min(BinomialUpperTail(trials, successes).NaturalLog, BinomialUpperTail(trials, trials - successes).NaturalLog);
        return FromNaturalLog(Math.Min(0, tail + Math.Log(2)));
    }

    /// <summary>
    /// The exact upper tail P[Binomial(<paramref name="trials"/>, ½) ≥ <paramref name="successes"/>]:
    /// the chance that a model which never saw the key matches at least that many of T bits.
    /// Computed in log space from term ratios (no normal approximation), right for any T.
    /// </summary>
    public static PValue BinomialUpperTail(int trials, int successes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(trials);
        if (successes <= 0)
        {
            return new PValue(0.0);
        }

        if (successes > trials)
        {
            return new PValue(double.NegativeInfinity);
        }

        if (2 * (long)successes >= trials)
        {
            return new PValue(LogUpperTailFromMode(trials, successes));
        }

        // Below the mean the tail is ≥ ½: p = 1 − P[X ≤ k−1] = 1 − P[X ≥ T−k+1] by symmetry.
        var lower = Math.Exp(LogUpperTailFromMode(trials, trials - successes + 1));
        return new PValue(Math.Log(1.0 - lower));
    }

    // ln Σ_{i≥k} C(T,i) 2^−T for k ≥ T/2, where the terms fall: C(T,k) 2^−T · Σ r_i with r_k = 1,
    // r_{i+1} = r_i (T−i)/(i+1) ≤ 1. The sum stops once a term no longer changes it.
    private static double LogUpperTailFromMode(int trials, int k)
    {
        var sum = 1.0;
        var ratio = 1.0;
        for (var i = k; i < trials; i++)
        {
            ratio *= (double)(trials - i) / (i + 1);
            var next = sum + ratio;
            if (next == sum)
            {
                break;
            }

            sum = next;
        }

        return LogBinomialCoefficient(trials, k) - (trials * Math.Log(2.0)) + Math.Log(sum);
    }

    // ln C(n,k) = Σ_{i=1}^{min(k,n−k)} ln((n−min+i)/i), summed in pairs of ratios to keep rounding small.
    private static double LogBinomialCoefficient(int n, int k)
    {
        var m = Math.Min(k, n - k);
        var sum = 0.0;
        var compensation = 0.0;
        for (var i = 1; i <= m; i++)
        {
            // Kahan summation: thousands of terms of similar size.
            var term = Math.Log((double)(n - m + i) / i) - compensation;
            var total = sum + term;
            compensation = (total - sum) - term;
            sum = total;
        }

        return sum;
    }

    /// <summary>Whether p ≤ <paramref name="alpha"/>, compared in log space.</summary>
    public bool IsAtMost(double alpha)
    {
        if (!(alpha > 0 && alpha <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "A false-positive bound is in (0, 1].");
        }

        return NaturalLog <= Math.Log(alpha);
    }

    /// <inheritdoc/>
    public int CompareTo(PValue other) => NaturalLog.CompareTo(other.NaturalLog);

    /// <inheritdoc/>
    public bool Equals(PValue other) => NaturalLog.Equals(other.NaturalLog);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is PValue other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => NaturalLog.GetHashCode();

    /// <summary>p with 3 significant digits, e.g. <c>0.412</c>, <c>0.0123</c>, <c>3.05e-12</c> or <c>8.64e-2467</c>; never "0" for p &gt; 0.</summary>
    public override string ToString()
    {
        if (double.IsNegativeInfinity(NaturalLog))
        {
            return "0";
        }

        var value = Value;
        if (value >= 1e-3)
        {
            return value.ToString("G3", CultureInfo.InvariantCulture);
        }

        var log10 = Log10;
        var exponent = (int)Math.Floor(log10);
        var mantissa = Math.Pow(10, log10 - exponent);
        if (mantissa >= 9.995)
        {
            mantissa /= 10;
            exponent++;
        }

        return string.Create(CultureInfo.InvariantCulture, $"{mantissa:0.00}e{exponent}");
    }

    /// <summary>Compares two p-values.</summary>
    public static bool operator ==(PValue left, PValue right) => left.Equals(right);

    /// <summary>Compares two p-values.</summary>
    public static bool operator !=(PValue left, PValue right) => !left.Equals(right);

    /// <summary>Compares two p-values.</summary>
    public static bool operator <(PValue left, PValue right) => left.CompareTo(right) < 0;

    /// <summary>Compares two p-values.</summary>
    public static bool operator >(PValue left, PValue right) => left.CompareTo(right) > 0;

    /// <summary>Compares two p-values.</summary>
    public static bool operator <=(PValue left, PValue right) => left.CompareTo(right) <= 0;

    /// <summary>Compares two p-values.</summary>
    public static bool operator >=(PValue left, PValue right) => left.CompareTo(right) >= 0;
}
