using System;
using System.Collections.Generic;
using Watermark.Attacks;

namespace Watermark.Alignment;

/// <summary>
/// One tensor of a producer signature: row-major float32 <paramref name="Values"/> of <paramref name="Shape"/>
/// whose axis <paramref name="Axis"/> runs over the host's input channels (e.g. axis 0 of the previous
/// conv's weight, or a batch norm's 1-d weight).
/// </summary>
public readonly record struct SignatureTensor(ReadOnlyMemory<float> Values, IReadOnlyList<long> Shape, int Axis);

/// <summary>
/// Per input channel of the host, a vector describing the neuron that produces that channel: the strongest
/// cue for matching channels, since it does not depend on the host weight at all. Two conditions make it
/// useful. (1) Channel c's vector must be scaled as a whole by α &gt; 0 when the transform scales the
/// channel's activation by α; <see cref="FromConvBatchNorm"/> builds such a vector, the folded "effective
/// neuron" of conv → batch norm → ReLU; raw batch-norm statistics do not qualify (the variance scales with
/// α²). (2) The producer's own input side must be in the reference's coordinates: untouched, or aligned
/// first (align the network from its input forwards). Then duplicated channels (NeuronSplit, NeuronClique)
/// have parallel vectors and can be merged.
/// </summary>
public sealed class ProducerSignature
{
    private readonly double[] _values;

    private ProducerSignature(double[] values, int channels, int length, (int Offset, int Length)[] segments)
    {
        _values = values;
        Channels = channels;
        Length = length;
        Segments = segments;
    }

    /// <summary>
    /// Concatenates, per channel, every value of each tensor whose index on the tensor's axis is that channel
    /// (C-order within a tensor, tensors in the given order). All tensors must agree on the channel count.
    /// </summary>
    public ProducerSignature(IReadOnlyList<SignatureTensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 0)
        {
            throw new ArgumentException("A producer signature needs at least one tensor.", nameof(tensors));
        }

        var first = tensors[0];
        ArgumentNullException.ThrowIfNull(first.Shape, nameof(tensors));
        if (first.Axis < 0 || first.Axis >= first.Shape.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(tensors), first.Axis, $"A tensor of shape {Capacity.ShapeText(first.Shape)} has no axis {first.Axis}.");
        }

        Channels = checked((int)first.Shape[first.Axis]);
        var layouts = new ChannelAxis[tensors.Count];
        long length = 0;
        for (var t = 0; t < tensors.Count; t++)
        {
            layouts[t] = ChannelAxis.Of(tensors[t].Values.Length, tensors[t].Shape, tensors[t].Axis, Channels, "first signature tensor", nameof(tensors), nameof(tensors));
            length += layouts[t].Outer * layouts[t].Inner;
        }

        Length = checked((int)length);
        _values = new double[checked((long)Channels * Length)];
        var segments = new (int Offset, int Length)[tensors.Count];
        var offset = 0;
        for (var t = 0; t < tensors.Count; t++)
        {
            var values = tensors[t].Values.Span;
            var layout = layouts[t];
            var run = (int)(layout.Outer * layout.Inner);
            for (var c = 0; c < Channels; c++)
            {
                var target = _values.AsSpan((c * Length) + offset, run);
                for (long o = 0; o < layout.Outer; o++)
                {
                    var source = values.Slice(layout.Start(o, c), layout.Inner);
                    for (var i = 0; i < layout.Inner; i++)
                    {
                        target[(int)(o * layout.Inner) + i] = source[i];
                    }
                }
            }

            segments[t] = (offset, run);
            offset += run;
        }

        Segments = segments;
        CheckFinite();
    }

    /// <summary>The number of channels (the host's input channels).</summary>
    public int Channels { get; }

    /// <summary>The length of one channel's vector.</summary>
    public int Length { get; }

    /// <summary>
    /// The effective neuron of a conv (weight [C, …], optional bias [C]) followed by a batch norm (γ, β, running
    /// mean μ and variance v, all [C]) and a ReLU: channel c computes ReLU(a_c·(f_c·x + bias_c − μ_c) + β_c)
    /// with a_c = γ_c / √(v_c + ε), so its vector is (a_c·f_c, a_c·(bias_c − μ_c) + β_c). Scaling the
    /// activation by α &gt; 0 (γ and β times α) scales the vector by α; scaling the conv filter (absorbed by μ
    /// and v) leaves it unchanged; a copied channel gives a parallel vector.
    /// </summary>
    public static ProducerSignature FromConvBatchNorm(
        ReadOnlySpan<float> convWeight,
        IReadOnlyList<long> convShape,
        ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> beta,
        ReadOnlySpan<float> runningMean,
        ReadOnlySpan<float> runningVariance,
        double epsilon = 1e-5,
        ReadOnlySpan<float> convBias = default)
    {
        ArgumentNullException.ThrowIfNull(convShape);
        if (convShape.Count < 2)
        {
            throw new ArgumentException($"A conv weight has shape [C, …] with at least two axes; {Capacity.ShapeText(convShape)} was given.", nameof(convShape));
        }

        var channels = checked((int)convShape[0]);
        var layout = ChannelAxis.Of(convWeight.Length, convShape, 0, channels, "conv weight", nameof(convShape), nameof(convWeight));
        foreach (var (vector, name) in new[] { (gamma.Length, nameof(gamma)), (beta.Length, nameof(beta)), (runningMean.Length, nameof(runningMean)), (runningVariance.Length, nameof(runningVariance)) })
        {
            if (vector != channels)
            {
                throw new ArgumentException($"The conv has {channels} output channels; {name} has {vector} entries.", name);
            }
        }

        if (!convBias.IsEmpty && convBias.Length != channels)
        {
            throw new ArgumentException($"The conv has {channels} output channels; its bias has {convBias.Length} entries.", nameof(convBias));
        }

        if (!(epsilon >= 0 && double.IsFinite(epsilon)))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "The batch norm's ε is a finite number ≥ 0, e.g. 1e-5.");
        }

        var length = layout.Inner + 1;
        var values = new double[checked((long)channels * length)];
        for (var c = 0; c < channels; c++)
        {
            var variance = runningVariance[c] + epsilon;
            if (!(variance > 0))
            {
                throw new ArgumentException($"Channel {c}'s running variance plus ε is {variance}; it must be positive.", nameof(runningVariance));
            }

            var a = gamma[c] / Math.Sqrt(variance);
            var row = values.AsSpan(c * length, length);
            var filter = convWeight.Slice(c * layout.Inner, layout.Inner);
            for (var i = 0; i < layout.Inner; i++)
            {
                row[i] = a * filter[i];
            }

            row[layout.Inner] = (a * ((convBias.IsEmpty ? 0 : convBias[c]) - runningMean[c])) + beta[c];
        }

        var signature = new ProducerSignature(values, channels, length, [(0, layout.Inner), (layout.Inner, 1)]);
        signature.CheckFinite();
        return signature;
    }

    /// <summary>
    /// The parts of a channel's vector that come from different sources (one per tensor; the filter and the
    /// bias term of <see cref="FromConvBatchNorm"/>): copies are parallel in every part, not only as a whole.
    /// </summary>
    internal (int Offset, int Length)[] Segments { get; }

    /// <summary>Channel <paramref name="channel"/>'s vector.</summary>
    internal ReadOnlySpan<double> Row(int channel) => _values.AsSpan(channel * Length, Length);

    private void CheckFinite()
    {
        for (var e = 0; e < _values.Length; e++)
        {
            if (!double.IsFinite(_values[e]))
            {
                throw new ArgumentException($"The producer signature of channel {e / Length} holds a non-finite value; the producer's parameters are corrupt.");
            }
        }
    }
}
