using System.Collections.Immutable;

namespace Watermark.Formats;

/// <summary>One tensor of a model file: its name, shape and element type, and where its values lie.</summary>
public sealed class TensorEntry
{
    internal TensorEntry(string name, ImmutableArray<long> shape, TensorDType dtype, string dtypeName, long elementCount, long dataOffset, long dataLength, bool contiguous, ImmutableArray<long> strides = default, int part = 0)
    {
        Strides = strides;
        Part = part;
        Name = name;
        Shape = shape;
        DType = dtype;
        DTypeName = dtypeName;
        ElementCount = elementCount;
        DataOffset = dataOffset;
        DataLength = dataLength;
        Contiguous = contiguous;
    }

    /// <summary>The state_dict name, e.g. <c>conv2.weight</c>.</summary>
    public string Name { get; }

    /// <summary>The shape (empty for a scalar).</summary>
    public ImmutableArray<long> Shape { get; }

    /// <summary>The element type.</summary>
    public TensorDType DType { get; }

    /// <summary>The element type as printed: torch's name, or the file's own name for an unsupported type.</summary>
    public string DTypeName { get; }

    /// <summary>The number of elements (the product of the shape).</summary>
    public long ElementCount { get; }

    /// <summary>Which of the model's files holds the values: an index into <see cref="ModelFile.Parts"/> (0: the file opened).</summary>
    internal int Part { get; }

    /// <summary>Where the values start in their file.</summary>
    internal long DataOffset { get; }

    /// <summary>How many bytes the values take in the file.</summary>
    internal long DataLength { get; }

    /// <summary>Whether the values are stored as plain little-endian elements (not ONNX varints).</summary>
    internal bool Contiguous { get; }

    /// <summary>
    /// The element strides of a view whose values are not stored in row-major order (a PyTorch tensor that
    /// is a transpose or a slice); default when they are. <see cref="DataOffset"/> is then where the view's
    /// first element lies and <see cref="DataLength"/> the bytes up to its last.
    /// </summary>
    internal ImmutableArray<long> Strides { get; }

    /// <summary>The same entry with its values in part <paramref name="part"/> (a shard read by its own reader).</summary>
    internal TensorEntry InPart(int part) => new(Name, Shape, DType, DTypeName, ElementCount, DataOffset, DataLength, Contiguous, Strides, part);

    /// <summary>The entry as <c>name [a, b] dtype</c>.</summary>
    public override string ToString() => $"{Name} {Capacity.ShapeText(Shape)} {DTypeName}";
}
