using System;
using System.Collections.Generic;

namespace Watermark.Attacks;

/// <summary>A row-major tensor seen along one axis: <c>Outer</c> blocks of <c>Channels</c> runs of <c>Inner</c> values each.</summary>
internal readonly record struct ChannelAxis(long Outer, int Channels, int Inner)
{
    /// <summary>The layout of <paramref name="length"/> values of <paramref name="shape"/> along <paramref name="axis"/>, which must hold <paramref name="channels"/> channels (one per entry of <paramref name="parameter"/>, the caller's argument; <paramref name="valuesParameter"/> names the caller's tensor argument).</summary>
    public static ChannelAxis Of(int length, IReadOnlyList<long> shape, int axis, int channels, string what, string parameter, string valuesParameter = "values")
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (axis < 0 || axis >= shape.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(axis), axis, $"A tensor of shape {Capacity.ShapeText(shape)} has no axis {axis}.");
        }

        if (shape[axis] != channels)
        {
            throw new ArgumentException($"Axis {axis} of shape {Capacity.ShapeText(shape)} has {shape[axis]} channels; the {what} has {channels}.", parameter);
        }

        long outer = 1, inner = 1;
        for (var d = 0; d < shape.Count; d++)
        {
            if (d < axis)
            {
                outer *= shape[d];
            }
            else if (d > axis)
            {
                inner *= shape[d];
            }
        }

        if (outer * channels * inner != length)
        {
            throw new ArgumentException($"A tensor of shape {Capacity.ShapeText(shape)} holds {outer * channels * inner} values, not {length}.", valuesParameter);
        }

        return new ChannelAxis(outer, channels, (int)inner);
    }

    /// <summary>Where the run of channel <paramref name="channel"/> in outer block <paramref name="block"/> starts.</summary>
    public int Start(long block, int channel) => (int)(((block * Channels) + channel) * Inner);
}
