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
        // Horner's rule over 1/25, 1/23, …, 1/3 (constants folded at compile time, correctly rounded,
        // so the same doubles as dividing at run time, without 12 chained divisions per call).
        var sum = 1.0 / 25;
        sum = (sum * f2) + (1.0 / 23);
        sum = (sum * f2) + (1.0 / 21);
        sum = (sum * f2) + (1.0 / 19);
        sum = (sum * f2) + (1.0 / 17);
        sum = (sum * f2) + (1.0 / 15);
        sum = (sum * f2) + (1.0 / 13);
        sum = (sum * f2) + (1.0 / 11);
        sum = (sum * f2) + (1.0 / 9);
        sum = (sum * f2) + (1.0 / 7);
        sum = (sum * f2) + (1.0 / 5);
        sum = (sum * f2) + (1.0 / 3);

        var lnM = (2.0 * f) + (2.0 * f * f2 * sum);
        return (e * Ln2High) + ((e * Ln2Low) + lnM);
    }
}
