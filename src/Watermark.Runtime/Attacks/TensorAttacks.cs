using System;
using static TorchSharp.torch;

namespace Watermark.Attacks;

/// <summary>
/// The weight attacks of <see cref="Pruning"/>, <see cref="Quantization"/> and <see cref="GaussianNoise"/>
/// applied in place to a live TorchSharp weight (any device): the same managed math the
/// <c>watermark attack</c> command uses on files, so both give the same result.
/// </summary>
public static class TensorAttacks
{
    /// <summary>Zeroes round(rate · n) entries in the given order; returns how many.</summary>
    public static int Prune(this Tensor weight, double rate, PruningOrder order = PruningOrder.Ascending, int seed = 0)
    {
        var zeroed = 0;
        Rewrite(weight, values => zeroed = Pruning.Prune(values, rate, order, seed));
        return zeroed;
    }

    /// <summary>Symmetric uniform quantization to <paramref name="bits"/> bits, per tensor or per output channel.</summary>
    public static void Quantize(this Tensor weight, int bits, bool perChannel = false) =>
        Rewrite(weight, values => Quantization.Quantize(values, weight.shape, bits, perChannel));

    /// <summary>Adds N(0, (σ·std(w))²) noise; returns the absolute σ used.</summary>
    public static double AddNoise(this Tensor weight, double relativeSigma, int seed)
    {
        var sigma = 0.0;
        Rewrite(weight, values => sigma = GaussianNoise.Add(values, relativeSigma, seed));
        return sigma;
    }

    private static void Rewrite(Tensor weight, Action<float[]> attack) =>
        Rewrite(weight, values =>
        {
            attack(values);
            return values;
        });

    // Reads the tensor as float32 on the CPU, lets the managed attack make the new values, and writes them
    // back in the tensor's own dtype and device, in place (so a module's parameters stay the same objects).
    internal static void Rewrite(Tensor weight, Func<float[], float[]> attack)
    {
        ArgumentNullException.ThrowIfNull(weight);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var values = weight.detach().to(ScalarType.Float32, CPU).contiguous().data<float>().ToArray();
        values = attack(values);
        weight.copy_(tensor(values, weight.shape).to(weight.dtype, weight.device));
    }
}
