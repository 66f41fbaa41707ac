using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Watermark.Formats;

namespace Watermark.Attacks;

/// <summary>A tensor that carries the channels between a producer and the host, with the axis that indexes them.</summary>
/// <param name="Values">The row-major values.</param>
/// <param name="Shape">The tensor's shape.</param>
/// <param name="Axis">The axis of the channels: 0 for the producer's weight, bias and batch-norm tensors, 1 for a conv or linear host's weight.</param>
public sealed record ChannelTensor(float[] Values, ImmutableArray<long> Shape, int Axis);

/// <summary>The tensors after dummy channels were added, and where the channels came from.</summary>
/// <param name="Producer">The producer's tensors, in the order given, each wider by the added channels.</param>
/// <param name="Host">The host's weight with the added input channels.</param>
/// <param name="Sources">New channel i computes what original channel Sources[i] computes (an added one copies its incoming weights and batch-norm parameters).</param>
/// <param name="Added">The new indices of the added channels, ascending.</param>
public sealed record WidenedChannels(IReadOnlyList<ChannelTensor> Producer, ChannelTensor Host, IReadOnlyList<int> Sources, IReadOnlyList<int> Added);

/// <summary>
/// Dummy neurons (Yan et al., "Rethinking White-Box Watermarks on Deep Learning Models under Neural Structural
/// Obfuscation", USENIX Security 2023): channels added between a producer (a conv, with the batch norm and
/// ReLU after it) and the host, so that the host's input width I — and with it M = I·k·k, the length of the
/// filter mean — changes while the network computes the same function. The producer's channels must feed
/// only the host (and what lies between them, e.g. a batch norm and a ReLU). Added channels are put at
/// random places among the originals, which keep their order.
/// <list type="bullet">
/// <item><see cref="Clique"/>: groups of 2 (one of 3 for an odd count) new channels, each group a copy of a
/// random original channel (so its activations a are that channel's), whose host slices V₁, …, V_g are random
/// with V₁ + … + V_g = 0: the host receives (V₁ + … + V_g)·a = 0 from them.</item>
/// <item><see cref="Split"/>: original channel c gets a copy, and its host slice V is split between the two
/// as λV and V − λV (λ uniform in [0.1, 0.9]): the host receives λV·a + (V − λV)·a = V·a.</item>
/// </list>
/// Both leave the function exact up to float rounding in the host's sums. A key made for the old shape no
/// longer applies (plain verification reports a shape mismatch), which is the attack.
/// </summary>
public static class DummyNeurons
{
    /// <summary>Adds <paramref name="count"/> ≥ 2 NeuronClique channels, reproducibly from a seed.</summary>
    /// <param name="producer">Every tensor that makes the host's input channels (conv weight and bias, batch norm's weight, bias, running mean and variance), with its channel axis.</param>
    /// <param name="host">The host's weight, channels on its axis (1 for a conv).</param>
    /// <param name="count">How many channels to add, at least 2.</param>
    /// <param name="seed">The seed of the random choices.</param>
    public static WidenedChannels Clique(IReadOnlyList<ChannelTensor> producer, ChannelTensor host, int count, int seed)
    {
        var channels = Check(producer, host);
        if (count < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "A clique is at least 2 new channels whose host slices cancel.");
        }

        var random = new Random(seed);
        var hostLayout = ChannelAxis.Of(host.Values.Length, host.Shape, host.Axis, channels, "producer", nameof(host), nameof(host));
        var spread = GaussianNoise.StandardDeviation(host.Values);

        // Groups of two, the last of three when the count is odd; each copies one random original channel.
        var added = new List<(int Source, float[] Slices)>();
        var groups = count / 2;
        for (var g = 0; g < groups; g++)
        {
            var size = g == groups - 1 && count % 2 == 1 ? 3 : 2;
            var source = random.Next(channels);
            var slices = new float[size][];
            var sum = new double[hostLayout.Outer * hostLayout.Inner];
            for (var j = 0; j < size - 1; j++)
            {
                slices[j] = new float[sum.Length];
                GaussianNoise.AddAbsolute(slices[j], spread, random.Next());
                for (var i = 0; i < sum.Length; i++)
                {
                    sum[i] += slices[j][i];
                }
            }

            slices[size - 1] = [.. sum.Select(s => (float)-s)];
            foreach (var slice in slices)
            {
                added.Add((source, slice));
            }
        }

        return Widen(producer, host, channels, hostLayout, added, random, coefficients: null);
    }

    /// <summary>Splits <paramref name="count"/> distinct original channels in two (NeuronSplit), reproducibly from a seed.</summary>
    /// <param name="producer">Every tensor that makes the host's input channels, with its channel axis.</param>
    /// <param name="host">The host's weight, channels on its axis (1 for a conv).</param>
    /// <param name="count">How many channels to split, 1 to the number of channels.</param>
    /// <param name="seed">The seed of the random choices.</param>
    public static WidenedChannels Split(IReadOnlyList<ChannelTensor> producer, ChannelTensor host, int count, int seed)
    {
        var channels = Check(producer, host);
        if (count < 1 || count > channels)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"Splitting takes 1 to {channels} distinct channels (the host has {channels} inputs).");
        }

        var random = new Random(seed);
        var hostLayout = ChannelAxis.Of(host.Values.Length, host.Shape, host.Axis, channels, "producer", nameof(host), nameof(host));
        var chosen = ChannelPermutation.Random(channels, random.Next())[..count];
        var coefficients = Enumerable.Repeat(1f, channels).ToArray();
        var added = new List<(int Source, float[] Slices)>();
        foreach (var c in chosen)
        {
            var lambda = (float)(0.1 + (0.8 * random.NextDouble()));
            coefficients[c] = lambda;

            // The copy's slice is V − λV in float, so the two add back to V as closely as float allows.
            var rest = new float[hostLayout.Outer * hostLayout.Inner];
            var k = 0;
            for (long o = 0; o < hostLayout.Outer; o++)
            {
                var run = host.Values.AsSpan(hostLayout.Start(o, c), hostLayout.Inner);
                foreach (var v in run)
                {
                    rest[k++] = v - (lambda * v);
                }
            }

            added.Add((c, rest));
        }

        return Widen(producer, host, channels, hostLayout, added, random, coefficients);
    }

    /// <summary>
    /// NeuronClique (<paramref name="clique"/>) or NeuronSplit on a model file: reads the producer's tensors and the
    /// host's weight (channels on axis 1), adds <paramref name="count"/> channels, and writes the widened copy to
    /// <paramref name="path"/> in the file's format (<see cref="ModelFile.WriteWithResized"/>: atomic; an existing
    /// file is replaced only when <paramref name="replace"/> is set).
    /// </summary>
    /// <param name="file">The model (TorchSharp .dat or safetensors).</param>
    /// <param name="producer">Every tensor of the file that carries the host's input channels, with its channel axis.</param>
    /// <param name="host">The host's weight.</param>
    /// <param name="clique">NeuronClique when set, else NeuronSplit.</param>
    /// <param name="count">How many channels to add (<see cref="Clique"/>) or split (<see cref="Split"/>).</param>
    /// <param name="seed">The seed of the random choices.</param>
    /// <param name="path">Where the widened copy goes.</param>
    /// <param name="replace">Whether an existing regular file at <paramref name="path"/> is replaced.</param>
    /// <returns>The widened tensors and where their channels came from.</returns>
    public static WidenedChannels Write(ModelFile file, IReadOnlyList<(TensorEntry Entry, int Axis)> producer, TensorEntry host, bool clique, int count, int seed, string path, bool replace = false)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(producer);
        ArgumentNullException.ThrowIfNull(host);
        var tensors = producer.Select(p => new ChannelTensor(file.ReadFloat32(p.Entry), p.Entry.Shape, p.Axis)).ToList();
        var hostTensor = new ChannelTensor(file.ReadFloat32(host), host.Shape, 1);
        var widened = clique ? Clique(tensors, hostTensor, count, seed) : Split(tensors, hostTensor, count, seed);
        var replaced = producer.Select((p, i) => (p.Entry, widened.Producer[i].Shape, widened.Producer[i].Values)).Append((host, widened.Host.Shape, widened.Host.Values)).ToList();
        file.WriteWithResized(path, replaced, replace);
        return widened;
    }

    // The widened tensors: producer channel i copies Sources[i]; the host's slice of an original channel c is
    // coefficients[c]·V_c (V_c when none are given), an added channel's is its own slice (outer-major).
    private static WidenedChannels Widen(IReadOnlyList<ChannelTensor> producer, ChannelTensor host, int channels, ChannelAxis hostLayout, List<(int Source, float[] Slice)> added, Random random, float[]? coefficients)
    {
        var width = channels + added.Count;
        var places = ChannelPermutation.Random(width, random.Next())[..added.Count];
        Array.Sort(places);
        var isAdded = new int[width];
        Array.Fill(isAdded, -1);
        for (var j = 0; j < places.Length; j++)
        {
            isAdded[places[j]] = j;
        }

        var sources = new int[width];
        var next = 0;
        for (var i = 0; i < width; i++)
        {
            sources[i] = isAdded[i] >= 0 ? added[isAdded[i]].Source : next++;
        }

        var widened = producer.Select(t => Gather(t, channels, sources)).ToList();

        var hostShape = host.Shape.SetItem(host.Axis, width);
        var hostValues = new float[hostLayout.Outer * width * hostLayout.Inner];
        var target = new ChannelAxis(hostLayout.Outer, width, hostLayout.Inner);
        var original = 0;
        for (var i = 0; i < width; i++)
        {
            var slot = isAdded[i];
            for (long o = 0; o < hostLayout.Outer; o++)
            {
                var to = hostValues.AsSpan(target.Start(o, i), hostLayout.Inner);
                if (slot >= 0)
                {
                    added[slot].Slice.AsSpan((int)(o * hostLayout.Inner), hostLayout.Inner).CopyTo(to);
                }
                else
                {
                    host.Values.AsSpan(hostLayout.Start(o, original), hostLayout.Inner).CopyTo(to);
                    if (coefficients is not null && coefficients[original] != 1f)
                    {
                        for (var v = 0; v < to.Length; v++)
                        {
                            to[v] *= coefficients[original];
                        }
                    }
                }
            }

            if (slot < 0)
            {
                original++;
            }
        }

        return new WidenedChannels(widened, new ChannelTensor(hostValues, hostShape, host.Axis), sources, places);
    }

    // Channel i of the result is channel sources[i] of the tensor along its axis.
    private static ChannelTensor Gather(ChannelTensor tensor, int channels, int[] sources)
    {
        var layout = ChannelAxis.Of(tensor.Values.Length, tensor.Shape, tensor.Axis, channels, "host's input", nameof(tensor), nameof(tensor));
        var target = new ChannelAxis(layout.Outer, sources.Length, layout.Inner);
        var values = new float[layout.Outer * sources.Length * layout.Inner];
        for (long o = 0; o < layout.Outer; o++)
        {
            for (var i = 0; i < sources.Length; i++)
            {
                tensor.Values.AsSpan(layout.Start(o, sources[i]), layout.Inner).CopyTo(values.AsSpan(target.Start(o, i), layout.Inner));
            }
        }

        return new ChannelTensor(values, tensor.Shape.SetItem(tensor.Axis, sources.Length), tensor.Axis);
    }

    private static int Check(IReadOnlyList<ChannelTensor> producer, ChannelTensor host)
    {
        ArgumentNullException.ThrowIfNull(producer);
        ArgumentNullException.ThrowIfNull(host);
        if (host.Axis < 0 || host.Axis >= host.Shape.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(host), host.Axis, $"The host of shape {Capacity.ShapeText(host.Shape)} has no axis {host.Axis}.");
        }

        if (producer.Count == 0)
        {
            throw new ArgumentException("Dummy channels need the producer's tensors (at least its weight), or the added channels would compute nothing.", nameof(producer));
        }

        var channels = host.Shape[host.Axis];
        if (channels <= 0 || channels > int.MaxValue / 2)
        {
            throw new ArgumentException($"The host of shape {Capacity.ShapeText(host.Shape)} has no input channels to add to.", nameof(host));
        }

        return (int)channels;
    }
}
