using System;
using System.Collections.Generic;

namespace Watermark.Attacks;

/// <summary>
/// Symmetric uniform weight quantization to k bits (int8 is k = 8), simulated in float: each value
/// becomes round(w / s) · s with s = max|w| / (2^(k−1) − 1), per tensor or per output channel (axis 0).
/// </summary>
public static class Quantization
{
    /// <summary>Quantizes <paramref name="weights"/> (row-major, of <paramref name="shape"/>) in place.</summary>
    public static void Quantize(Span<float> weights, IReadOnlyList<long> shape, int bits, bool perChannel)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (bits is < 2 or > 16)
        {
            throw new ArgumentOutOfRangeException(nameof(bits), bits, "Quantization keeps 2 to 16 bits per weight, e.g. 8 for int8.");
        }

        if (weights.IsEmpty)
        {
            return;
        }

        // Bounded by the values really held, so a header's channel count cannot drive the loop.
        var channels = perChannel && shape.Count > 0 ? shape[0] : 1;
        if (channels <= 0 || channels > weights.Length || weights.Length % channels != 0)
        {
            throw new ArgumentException($"A tensor of shape {Capacity.ShapeText(shape)} cannot hold {weights.Length} values.", nameof(shape));
        }

        var levels = (1 << (bits - 1)) - 1;
        var size = (int)(weights.Length / channels);
        for (var c = 0; c < channels; c++)
        {
            var channel = weights.Slice((int)c * size, size);
            var max = 0f;
            foreach (var w in channel)
            {
                max = Math.Max(max, Math.Abs(w));
            }

            if (max == 0 || !float.IsFinite(max))
            {
                continue;
            }

            var scale = max / levels;
            for (var i = 0; i < channel.Length; i++)
            {
                channel[i] = (float)(Math.Round(channel[i] / scale, MidpointRounding.ToEven) * scale);
            }
        }
    }
}
