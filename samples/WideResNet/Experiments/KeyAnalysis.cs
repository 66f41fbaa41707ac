using System;
using Watermark;

namespace WideResNet.Experiments;

/// <summary>
/// How many of a key's bits train-to-embed can set, from the key alone (the task loss left out).
/// <para><b>Feasible:</b> bits still wrong at the minimum of E_R: more than 0 only when the key's
/// constraints contradict each other (for <c>diff</c> keys and the all-ones message, a directed cycle
/// of pairs w_a &gt; w_b &gt; … &gt; w_a).</para>
/// <para><b>Equilibrium:</b> bits wrong at the minimum of E_R + ρ‖w‖², ρ = O·wd / (2λ): the restoring
/// force SGD's weight decay wd exerts on the mean of the host's O filters, against λ·E_R's push of 1/O
/// of its gradient per filter. Keys whose rows are short (direct, diff: ‖x‖² = 1 or 2) and share
/// columns lose the bits whose pushes conflict. The task loss restores too (the diffkey experiment:
/// without weight decay on the host the diff key still loses nearly as many bits), so read it as the
/// balance against a restoring force of that order, not against weight decay alone.</para>
/// </summary>
internal static class KeyAnalysis
{
    public static (int Feasible, int Equilibrium, double Ridge) WrongBits(WatermarkKey key, int filters, double weightDecay)
    {
        var ridge = filters * weightDecay / (2 * key.Strength);
        return (Minimize(key, 0), Minimize(key, ridge), ridge);
    }

    // Gradient descent with step 1/L on Σ BCE(x_j·w, b_j) + ridge‖w‖², from w = 0; counts wrong bits.
    private static int Minimize(WatermarkKey key, double ridge, int steps = 4000)
    {
        var x = key.ProjectionMatrix().Span;
        var b = key.TargetBits();
        int t = key.Bits, m = key.FilterMeanLength;
        var step = 1 / (SquaredNorm(x, t, m) / 4 + 2 * ridge);
        var w = new double[m];
        var g = new double[m];
        var z = new double[t];
        for (var s = 0; s < steps; s++)
        {
            Project(x, w, z, t, m);
            Array.Clear(g);
            for (var j = 0; j < t; j++)
            {
                var d = 1 / (1 + Math.Exp(-z[j])) - (b[j] ? 1 : 0);
                for (var i = 0; i < m; i++)
                {
                    g[i] += d * x[(j * m) + i];
                }
            }

            for (var i = 0; i < m; i++)
            {
                w[i] -= step * (g[i] + (2 * ridge * w[i]));
            }
        }

        Project(x, w, z, t, m);
        var wrong = 0;
        for (var j = 0; j < t; j++)
        {
            wrong += z[j] >= 0 == b[j] ? 0 : 1;
        }

        return wrong;
    }

    /// <summary>
    /// The orthogonal projection of <paramref name="w"/> onto the row space of the key's X: the only
    /// directions λ·E_R's gradient Xᵀ(σ(Xw) − b) can move w in. Solves (XXᵀ)a = Xw by Cholesky and
    /// returns Xᵀa (a relative ridge of 1e-9 keeps XXᵀ invertible when T ≥ M).
    /// </summary>
    public static double[] OntoRows(WatermarkKey key, double[] w)
    {
        var x = key.ProjectionMatrix().Span;
        int t = key.Bits, m = key.FilterMeanLength;
        var l = new double[t, t];
        for (var i = 0; i < t; i++)
        {
            for (var j = 0; j <= i; j++)
            {
                double dot = 0;
                for (var k = 0; k < m; k++)
                {
                    dot += x[(i * m) + k] * (double)x[(j * m) + k];
                }

                var sum = i == j ? dot * (1 + 1e-9) : dot;
                for (var k = 0; k < j; k++)
                {
                    sum -= l[i, k] * l[j, k];
                }

                l[i, j] = i == j ? Math.Sqrt(sum) : sum / l[j, j];
            }
        }

        var a = new double[t];
        Project(x, w, a, t, m);
        for (var i = 0; i < t; i++)
        {
            for (var k = 0; k < i; k++)
            {
                a[i] -= l[i, k] * a[k];
            }

            a[i] /= l[i, i];
        }

        for (var i = t - 1; i >= 0; i--)
        {
            for (var k = i + 1; k < t; k++)
            {
                a[i] -= l[k, i] * a[k];
            }

            a[i] /= l[i, i];
        }

        var projection = new double[m];
        for (var j = 0; j < t; j++)
        {
            for (var i = 0; i < m; i++)
            {
                projection[i] += a[j] * x[(j * m) + i];
            }
        }

        return projection;
    }

    private static void Project(ReadOnlySpan<float> x, double[] w, double[] z, int t, int m)
    {
        for (var j = 0; j < t; j++)
        {
            double sum = 0;
            for (var i = 0; i < m; i++)
            {
                sum += x[(j * m) + i] * w[i];
            }

            z[j] = sum;
        }
    }

    // ‖X‖₂² by power iteration on XᵀX: the Lipschitz constant of ∇E_R is ‖X‖₂²/4.
    private static double SquaredNorm(ReadOnlySpan<float> x, int t, int m)
    {
        var v = new double[m];
        for (var i = 0; i < m; i++)
        {
            v[i] = Math.Sin(i + 1); // not orthogonal to the rows, as a constant start is to diff rows
        }

        var z = new double[t];
        double norm = 0;
        for (var iteration = 0; iteration < 100; iteration++)
        {
            Project(x, v, z, t, m);
            var u = new double[m];
            for (var j = 0; j < t; j++)
            {
                for (var i = 0; i < m; i++)
                {
                    u[i] += x[(j * m) + i] * z[j];
                }
            }

            norm = 0;
            foreach (var a in u)
            {
                norm += a * a;
            }

            norm = Math.Sqrt(norm);
            for (var i = 0; i < m; i++)
            {
                v[i] = u[i] / norm;
            }
        }

        return norm;
    }
}
