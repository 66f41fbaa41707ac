using System.Collections.Generic;

namespace Watermark.Formats.Pickle;

/// <summary>
/// What the restricted unpickler builds. Plain Python values become .NET values (None → null, bool,
/// int → long or <see cref="PickleBigInteger"/>, float → double, str → string, bytes → byte[]); containers
/// and the few torch objects a state_dict holds get the types below. Nothing here runs code.
/// </summary>
internal sealed class PickleTuple(object?[] items)
{
    public object?[] Items { get; } = items;
}

/// <summary>A Python list (mutable: APPEND adds to it after it is made).</summary>
internal sealed class PickleList
{
    public List<object?> Items { get; } = [];
}

/// <summary>A dict or OrderedDict: its items in insertion order. A repeated key keeps its first place and its last value, as in Python.</summary>
internal sealed class PickleDict
{
    private readonly Dictionary<object, int> index = [];

    public List<KeyValuePair<object?, object?>> Items { get; } = [];

    public void Set(object? key, object? value)
    {
        // Only str and int keys are looked up by value (all a state_dict or optimizer state uses); others are kept as given.
        if (key is string or long && index.TryGetValue(key, out var at))
        {
            Items[at] = new(key, value);
            return;
        }

        if (key is string or long)
        {
            index[key] = Items.Count;
        }

        Items.Add(new(key, value));
    }
}

/// <summary>An integer too wide for a long (LONG1 of more than 8 bytes, LONG4): kept, never interpreted.</summary>
internal sealed class PickleBigInteger
{
}

/// <summary>A global the allow-list admits, e.g. <c>collections.OrderedDict</c> or <c>torch.FloatStorage</c>.</summary>
internal sealed record PickleGlobal(string Module, string Name, AllowedGlobal Kind, TensorDType DType)
{
    public string FullName => $"{Module}.{Name}";
}

/// <summary>What an allowed global is.</summary>
internal enum AllowedGlobal
{
    OrderedDict,
    RebuildTensorV2,
    RebuildParameter,
    RebuildParameterWithState,
    StorageType,
    DType,
}

/// <summary>A storage of the archive, from a persistent id ('storage', type, key, location, numel).</summary>
internal sealed record StorageRef(string Key, string TypeName, TensorDType DType, long ElementCount);

/// <summary>A tensor: a view of a storage (offset, sizes and strides in elements).</summary>
internal sealed record TensorRef(StorageRef Storage, long Offset, long[] Size, long[] Stride);
