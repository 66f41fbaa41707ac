using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Watermark.Formats;

// Usage: VerifySpeed OUT.dat [seed]
// Writes a state_dict with the names and shapes of the paper's WRN-10-4 (pre-activation, N = 1, k = 4),
// weights drawn from N(0, 0.05²): the same bytes to read as a real checkpoint of that network.
if (args.Length is < 1 or > 2)
{
    Console.Error.WriteLine("usage: VerifySpeed OUT.dat [seed]");
    return 2;
}

var random = new Random(args.Length == 2 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1);
var tensors = new List<StoredTensor>();

void Add(string name, params long[] shape)
{
    var count = shape.Aggregate(1L, (a, b) => a * b);
    var values = new float[count];
    for (var i = 0; i < values.Length; i++)
    {
        values[i] = (float)(0.05 * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
    }

    var bytes = new byte[count * 4];
    TensorDTypes.FromSingle(TensorDType.Float32, values, bytes);
    tensors.Add(new StoredTensor(name, [.. shape], TensorDType.Float32, bytes));
}

void BatchNorm(string name, long channels)
{
    Add($"{name}.weight", channels);
    Add($"{name}.bias", channels);
    Add($"{name}.running_mean", channels);
    Add($"{name}.running_var", channels);
    tensors.Add(new StoredTensor($"{name}.num_batches_tracked", ImmutableArray<long>.Empty, TensorDType.Int64, BitConverter.GetBytes(0L)));
}

Add("conv1.weight", 16, 3, 3, 3);
long input = 16;
foreach (var (group, width) in new[] { ("g2", 64L), ("g3", 128L), ("g4", 256L) })
{
    BatchNorm($"{group}.block0.bn1", input);
    Add($"{group}.block0.conv1.weight", width, input, 3, 3);
    BatchNorm($"{group}.block0.bn2", width);
    Add($"{group}.block0.conv2.weight", width, width, 3, 3);
    Add($"{group}.block0.shortcut.weight", width, input, 1, 1);
    input = width;
}

BatchNorm("bn", input);
Add("fc.weight", 10, input);
Add("fc.bias", 10);
ModelFile.Write(args[0], ModelFile.FormatFromExtension(args[0]) ?? ModelFormat.TorchSharpDat, tensors, replace: true);
Console.WriteLine($"wrote {args[0]}: {tensors.Count} tensors, {tensors.Sum(t => t.Data.Length / Math.Max(1, t.DType.Size()))} values");
return 0;
