using System;
using System.Collections.Immutable;

namespace Watermark.Formats;

/// <summary>A tensor held in memory for writing: name, shape, element type and little-endian values.</summary>
public sealed record StoredTensor(string Name, ImmutableArray<long> Shape, TensorDType DType, ReadOnlyMemory<byte> Data);
