using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using static TorchSharp.torch;

namespace Watermark.Training;

/// <summary>
/// What <see cref="Trainer"/> learns from: the mini-batches of each epoch as (input, target) pairs.
/// Epochs are asked for by number, so that a run resumed from a checkpoint sees the same batches as
/// an uninterrupted one when the data's order depends only on its seed and the epoch.
/// </summary>
/// <remarks>
/// Tensors created while a batch is produced (loading, collating, moving to the device) belong to the
/// training step that consumes it and are freed after it; tensors that existed before (an in-memory
/// batch reused every epoch) are left alone. <see cref="TrainingData"/> makes one from a TorchSharp
/// <c>Dataset</c> or from batches you already have.
/// </remarks>
public interface ITrainingData
{
    /// <summary>Examples per epoch (for throughput and the error rate).</summary>
    long Count { get; }

    /// <summary>Batches per epoch (for progress within an epoch).</summary>
    long BatchesPerEpoch { get; }

    /// <summary>The batches of epoch <paramref name="epoch"/> (0-based), on <paramref name="device"/>.</summary>
    IEnumerable<(Tensor Input, Tensor Target)> Epoch(int epoch, Device device, CancellationToken cancellation = default);
}

/// <summary>Makes <see cref="ITrainingData"/> from TorchSharp datasets and from batches in memory.</summary>
public static class TrainingData
{
    /// <summary>
    /// Mini-batches of a TorchSharp dataset whose items are dictionaries (the torchvision style:
    /// <c>"data"</c> and <c>"label"</c> by default). With <paramref name="shuffle"/>, epoch e's order is a
    /// permutation drawn from (<paramref name="seed"/>, e) alone, so a resumed run repeats it exactly.
    /// The dataset stays yours: it is not disposed.
    /// </summary>
    public static ITrainingData FromDataset(utils.data.Dataset dataset, int batchSize, bool shuffle = true, ulong seed = 1, string inputKey = "data", string targetKey = "label")
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentException.ThrowIfNullOrEmpty(inputKey);
        ArgumentException.ThrowIfNullOrEmpty(targetKey);
        return new DatasetBatches<Dictionary<string, Tensor>>(dataset, batchSize, shuffle, seed, (items, device) => (Stack(items, inputKey, device), Stack(items, targetKey, device)));
    }

    /// <summary>
    /// Mini-batches of a TorchSharp dataset whose items are tensor lists, such as
    /// <c>torch.utils.data.TensorDataset(inputs, targets)</c>: item[0] is the input, item[1] the target.
    /// </summary>
    public static ITrainingData FromDataset(utils.data.IterableDataset dataset, int batchSize, bool shuffle = true, ulong seed = 1)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        return new DatasetBatches<IList<Tensor>>(dataset, batchSize, shuffle, seed, (items, device) => (Stack(items, 0, device), Stack(items, 1, device)));
    }

    /// <summary>
    /// Batches you already hold (e.g. a small dataset on the GPU), in this order every epoch. They are
    /// moved to the trainer's device when they are elsewhere; the originals are never disposed.
    /// </summary>
    public static ITrainingData FromBatches(IReadOnlyList<(Tensor Input, Tensor Target)> batches)
    {
        ArgumentNullException.ThrowIfNull(batches);
        if (batches.Count == 0)
        {
            throw new ArgumentException("Training needs at least one batch.", nameof(batches));
        }

        return new FixedBatches(batches);
    }

    private static Tensor Stack(IReadOnlyList<Dictionary<string, Tensor>> items, string key, Device device)
    {
        var tensors = new Tensor[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            if (!items[i].TryGetValue(key, out var t))
            {
                throw new WatermarkException($"A dataset item has no '{key}' entry (it has {string.Join(", ", items[i].Keys.Select(k => $"'{k}'"))}); name the input and target entries with inputKey/targetKey.");
            }

            tensors[i] = t;
        }

        return stack(tensors).to(device);
    }

    private static Tensor Stack(IReadOnlyList<IList<Tensor>> items, int index, Device device)
    {
        var tensors = new Tensor[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            if (items[i].Count <= index)
            {
                throw new WatermarkException($"A dataset item holds {items[i].Count} tensor(s); training needs two: the input, then the target.");
            }

            tensors[i] = items[i][index];
        }

        return stack(tensors).to(device);
    }

    private sealed class DatasetBatches<T>(utils.data.Dataset<T> dataset, int batchSize, bool shuffle, ulong seed, Func<IReadOnlyList<T>, Device, (Tensor, Tensor)> collate) : ITrainingData
    {
        private readonly int batchSize = batchSize > 0 ? batchSize : throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch size must be positive.");

        public long Count => dataset.Count;

        public long BatchesPerEpoch => (Count + batchSize - 1) / batchSize;

        public IEnumerable<(Tensor Input, Tensor Target)> Epoch(int epoch, Device device, CancellationToken cancellation = default)
        {
            var count = dataset.Count;
            if (count == 0)
            {
                throw new WatermarkException("The dataset is empty; training needs at least one example.");
            }

            if (count > int.MaxValue)
            {
                throw new WatermarkException($"The dataset has {count} examples; TrainingData.FromDataset shuffles at most {int.MaxValue}: give the trainer your own ITrainingData.");
            }

            var order = SplitMix64.Order((int)count, shuffle, seed, epoch);
            var items = new List<T>(batchSize);
            for (long start = 0; start < count; start += batchSize)
            {
                cancellation.ThrowIfCancellationRequested();
                items.Clear();
                var end = Math.Min(count, start + batchSize);
                for (var i = start; i < end; i++)
                {
                    items.Add(dataset.GetTensor(order[i]));
                }

                yield return collate(items, device);
            }
        }
    }

    private sealed class FixedBatches(IReadOnlyList<(Tensor Input, Tensor Target)> batches) : ITrainingData
    {
        public long Count => batches.Sum(b => b.Input.shape[0]);

        public long BatchesPerEpoch => batches.Count;

        public IEnumerable<(Tensor Input, Tensor Target)> Epoch(int epoch, Device device, CancellationToken cancellation = default)
        {
            foreach (var (input, target) in batches)
            {
                cancellation.ThrowIfCancellationRequested();
                yield return (input.to(device), target.to(device));
            }
        }
    }
}
