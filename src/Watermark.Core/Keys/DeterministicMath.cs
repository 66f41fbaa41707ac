using System;

namespace Watermark;

/// <summary>
/// Elementary functions built from IEEE-754 basic operations only (+, −, ×, ÷ are correctly rounded
/// everywhere), so key derivation never depends on a platform's libm. Accuracy is about 1 ulp;
/// what matters is that the result is the same on every machine.
/// </summary>
internal static class DeterministicMath
{
    private const double Ln2High = 0.693147180369123816490;   // upper bits of ln 2, exact in 32 bits
    private const double Ln2Low = 1.90821492927058770002e-10; // ln 2 − Ln2High
    private const double Sqrt2 = 1.4142135623730951;

    /// <summary>Natural logarithm of a positive, finite, normal double.</summary>
    internal static double Log(double x)
    {
        if (!(x > 0.0) || double.IsInfinity(x) || !double.IsNormal(x))
        {
            throw new ArgumentOutOfRangeException(nameof(x), "DeterministicMath.Log takes positive normal numbers.");
        }

        // x = m · 2^e with m in [1, 2), then move m into [√½, √2) so f below stays small.
        var bits = BitConverter.DoubleToInt64Bits(x);
        var e = (int)((bits >> 52) & 0x7FF) - 1023;
        var m = BitConverter.Int64BitsToDouble((bits & 0x000FFFFFFFFFFFFFL) | 0x3FF0000000000000L);
        if (m >= Sqrt2)
        {
            m *= 0.5;
            e++;
        }

        // ln m = 2·atanh(f), f = (m−1)/(m+1), |f| ≤ 0.1716: the odd series converges to 1e−17 in 13 terms.
        var f = (m - 1.0) / (m + 1.0);
        var f2 = f * f;
        var sum = 0.0;
        for (var k = 25; k >= 3; k -= 2)
        {
            sum = (sum * f2) + (1.0 / k);
        }

        var lnM = (2.0 * f) + (2.0 * f * f2 * sum);
        return (e * Ln2High) + ((e * Ln2Low) + lnM);
    }
}
