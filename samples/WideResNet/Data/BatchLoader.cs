using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using TorchSharp;
using Watermark.Training;
using static TorchSharp.torch;

namespace WideResNet.Data;

/// <summary>One mini-batch: normalised images [B, 3, 32, 32] and labels [B] (int64).</summary>
public sealed class Batch : IDisposable
{
    internal Batch(Tensor images, Tensor labels)
    {
        Images = images;
        Labels = labels;
    }

    /// <summary>Normalised images.</summary>
    public Tensor Images { get; }

    /// <summary>Class labels.</summary>
    public Tensor Labels { get; }

    /// <summary>Frees both tensors.</summary>
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}

/// <summary>
/// Mini-batches of an <see cref="ImageDataset"/>: shuffled and augmented per sample (zero-pad 4,
/// random 32×32 crop, horizontal flip with probability ½, as in the paper), normalised per channel.
/// A background task prepares the next batches while the model computes. The order and the crops of
/// epoch e depend only on (seed, e), so a resumed run sees exactly the batches of an uninterrupted one.
/// </summary>
public sealed class BatchLoader : ITrainingData
{
    /// <summary>CIFAR-10 channel means (of pixel / 255).</summary>
    public static readonly float[] CifarMean = [0.4914f, 0.4822f, 0.4465f];

    /// <summary>CIFAR-10 channel standard deviations.</summary>
    public static readonly float[] CifarStd = [0.2470f, 0.2435f, 0.2616f];

    private const int Side = 32;
    private const int Pad = 4;
    private const int Prefetch = 3;

    private readonly ImageDataset data;
    private readonly bool shuffle;
    private readonly bool augment;
    private readonly ulong seed;

    // Image buffers handed back by the consumer once torch.tensor has copied them: the producer reuses
    // them instead of allocating 0.75 MiB (batch 64) on the large-object heap for every batch.
    private readonly ConcurrentBag<float[]> buffers = [];

    /// <summary>Creates a loader; training loaders shuffle and augment, evaluation loaders do neither.</summary>
    public BatchLoader(ImageDataset data, int batchSize, bool shuffle, bool augment, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        this.data = data;
        BatchSize = batchSize;
        this.shuffle = shuffle;
        this.augment = augment;
        this.seed = seed;
    }

    /// <summary>Images per batch (the last batch of an epoch may be smaller).</summary>
    public int BatchSize { get; }

    /// <summary>Batches in one epoch.</summary>
    public long BatchesPerEpoch => (data.Count + BatchSize - 1) / BatchSize;

    /// <summary>Images in one epoch.</summary>
    public long Count => data.Count;

    /// <summary>The dataset.</summary>
    public ImageDataset Data => data;

    /// <summary>The trainer's view: (images, labels); the step's dispose scope frees them.</summary>
    IEnumerable<(Tensor Input, Tensor Target)> ITrainingData.Epoch(int epoch, Device device, CancellationToken cancellation)
    {
        foreach (var batch in Epoch(epoch, device, cancellation))
        {
            yield return (batch.Images, batch.Labels);
        }
    }

    /// <summary>
    /// The batches of epoch <paramref name="epoch"/>, created on <paramref name="device"/>. Dispose each
    /// batch (or create it inside a dispose scope).
    /// </summary>
    public IEnumerable<Batch> Epoch(int epoch, Device? device = null, CancellationToken cancellation = default)
    {
        device ??= CPU;
        var order = Order(epoch);
        var channel = Channel.CreateBounded<(float[] Images, long[] Labels)>(new BoundedChannelOptions(Prefetch) { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var producer = Task.Run(() => Produce(order, epoch, channel.Writer, stop.Token), stop.Token);
        try
        {
            var reader = channel.Reader;
            while (reader.WaitToReadAsync(stop.Token).AsTask().GetAwaiter().GetResult())
            {
                while (reader.TryRead(out var item))
                {
                    var count = item.Labels.Length;
                    var images = Native(item.Images.AsSpan(0, count * ImageDataset.ImageBytes), [count, 3, Side, Side], ScalarType.Float32);
                    var labels = Native<long>(item.Labels, [count], ScalarType.Int64);

                    // The batch now lives in libtorch's memory: the buffer goes back to the producer.
                    buffers.Add(item.Images);
                    if (device.type != DeviceType.CPU)
                    {
                        var onDevice = new Batch(images.to(device), labels.to(device));
                        images.Dispose();
                        labels.Dispose();
                        yield return onDevice;
                    }
                    else
                    {
                        yield return new Batch(images, labels);
                    }
                }
            }

            producer.GetAwaiter().GetResult();
        }
        finally
        {
            stop.Cancel();
            try
            {
                producer.Wait(CancellationToken.None);
            }
            catch (AggregateException e) when (e.InnerException is OperationCanceledException)
            {
                // The consumer stopped early; the producer was told to stop.
            }
        }
    }

    // A tensor in libtorch's memory holding a copy of the values. torch.tensor(array) would clone the
    // array on the managed heap and pin the clone for the tensor's life: 0.75 MiB of large-object heap
    // per training batch (3 MiB per evaluation batch), freed only by a full GC, which made resident
    // memory swing by hundreds of MiB between epochs (bench/README.md, "Memory").
    private static Tensor Native<T>(ReadOnlySpan<T> values, ReadOnlySpan<long> shape, ScalarType type)
        where T : unmanaged
    {
        var result = empty(shape, type);
        MemoryMarshal.AsBytes(values).CopyTo(result.bytes);
        return result;
    }

    private int[] Order(int epoch) => SplitMix64.Order(data.Count, shuffle, seed, epoch);

    private async Task Produce(int[] order, int epoch, ChannelWriter<(float[], long[])> writer, CancellationToken cancellation)
    {
        try
        {
            var random = new SplitMix64(SplitMix64.Mix(seed ^ 0xA5A5A5A5UL, (ulong)epoch));
            for (var start = 0; start < order.Length; start += BatchSize)
            {
                var count = Math.Min(BatchSize, order.Length - start);
                // Every buffer holds a full batch; the last, smaller batch of an epoch uses the front of one.
                var images = buffers.TryTake(out var reused) ? reused : new float[BatchSize * ImageDataset.ImageBytes];
                var labels = new long[count];
                for (var b = 0; b < count; b++)
                {
                    var index = order[start + b];
                    labels[b] = data.Labels[index];
                    int dx = Pad, dy = Pad;
                    var flip = false;
                    if (augment)
                    {
                        dx = random.Below((2 * Pad) + 1);
                        dy = random.Below((2 * Pad) + 1);
                        flip = random.Below(2) == 1;
                    }

                    Write(data.Image(index), images.AsSpan(b * ImageDataset.ImageBytes, ImageDataset.ImageBytes), dx - Pad, dy - Pad, flip);
                }

                await writer.WriteAsync((images, labels), cancellation).ConfigureAwait(false);
            }

            writer.Complete();
        }
        catch (Exception e)
        {
            writer.Complete(e);
        }
    }

    // out[c, y, x] = normalise(src[c, y + oy, x' + ox]) with x' = flip ? 31 − x : x; outside the
    // image the (zero) padding normalises to −mean/std, as torchvision's pad-then-normalise does.
    private static void Write(ReadOnlySpan<byte> source, Span<float> target, int ox, int oy, bool flip)
    {
        for (var c = 0; c < 3; c++)
        {
            var scale = 1f / (255f * CifarStd[c]);
            var shift = CifarMean[c] / CifarStd[c];
            var plane = source.Slice(c * Side * Side, Side * Side);
            var output = target.Slice(c * Side * Side, Side * Side);
            for (var y = 0; y < Side; y++)
            {
                var sy = y + oy;
                for (var x = 0; x < Side; x++)
                {
                    var sx = (flip ? Side - 1 - x : x) + ox;
                    var value = sy is >= 0 and < Side && sx is >= 0 and < Side ? plane[(sy * Side) + sx] : 0;
                    output[(y * Side) + x] = (value * scale) - shift;
                }
            }
        }
    }
}
