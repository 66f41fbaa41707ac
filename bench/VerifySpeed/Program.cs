using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Watermark.Formats;

// Usage: VerifySpeed OUT.dat [seed]
//        VerifySpeed mark MODEL.dat KEY.json OUT.dat
// Writes a state_dict with the names and shapes of the paper's WRN-10-4 (pre-activation, N = 1, k = 4),
// weights drawn from N(0, 0.05²): the same bytes to read as a real checkpoint of that network. `mark`
// writes a copy whose host carries the key's mark (for `verify --reference`, whose reference must).
if (args.Length == 4 && args[0] == "mark")
{
    return Mark(args[1], args[2], args[3]);
}

if (args.Length is < 1 or > 2)
{
    Console.Error.WriteLine("usage: VerifySpeed OUT.dat [seed] | VerifySpeed mark MODEL.dat KEY.json OUT.dat");
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
        if (name.EndsWith(".running_var", StringComparison.Ordinal))
        {
            values[i] = 1 + Math.Abs(values[i]); // a variance, as batch norms hold (verify --producer reads it)
        }
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

// The smallest change d to the filter mean w that puts every projection X(w + d) at ±0.05 on its target
// bit's side: d = Xᵀ(XXᵀ)⁻¹(t − Xw), added to every filter (the mean moves by d). Not the paper's
// training, only a reference that carries the mark, as a trained one would.
static int Mark(string modelPath, string keyPath, string outPath)
{
    var key = Watermark.Keyring.Load(keyPath).Slots[0];
    var model = ModelFile.Open(modelPath);
    var host = model.Find(key.Parameter);
    var weights = model.ReadFloat32(host);
    var m = key.FilterMeanLength;
    var t = key.Bits;
    var w = Watermark.FilterMean.Compute(weights, host.Shape);
    var x = key.ProjectionMatrix().Span;
    var bits = key.TargetBits();
    var rhs = new double[t];
    for (var i = 0; i < t; i++)
    {
        var projection = 0.0;
        for (var j = 0; j < m; j++)
        {
            projection += x[(i * m) + j] * w[j];
        }

        rhs[i] = (bits[i] ? 0.05 : -0.05) - projection;
    }

    // Gram matrix XXᵀ (T × T, positive definite for T < M), solved by Cholesky.
    var gram = new double[t, t];
    for (var i = 0; i < t; i++)
    {
        for (var k = 0; k <= i; k++)
        {
            var sum = 0.0;
            for (var j = 0; j < m; j++)
            {
                sum += (double)x[(i * m) + j] * x[(k * m) + j];
            }

            gram[i, k] = sum;
        }
    }

    for (var i = 0; i < t; i++)
    {
        for (var k = 0; k <= i; k++)
        {
            var sum = gram[i, k];
            for (var j = 0; j < k; j++)
            {
                sum -= gram[i, j] * gram[k, j];
            }

            gram[i, k] = i == k ? Math.Sqrt(sum) : sum / gram[k, k];
        }
    }

    var y = new double[t];
    for (var i = 0; i < t; i++)
    {
        var sum = rhs[i];
        for (var j = 0; j < i; j++)
        {
            sum -= gram[i, j] * y[j];
        }

        y[i] = sum / gram[i, i];
    }

    for (var i = t - 1; i >= 0; i--)
    {
        var sum = y[i];
        for (var j = i + 1; j < t; j++)
        {
            sum -= gram[j, i] * y[j];
        }

        y[i] = sum / gram[i, i];
    }

    var delta = new double[m];
    for (var i = 0; i < t; i++)
    {
        for (var j = 0; j < m; j++)
        {
            delta[j] += x[(i * m) + j] * y[i];
        }
    }

    for (var o = 0; o < weights.Length / m; o++)
    {
        for (var j = 0; j < m; j++)
        {
            weights[(o * m) + j] += (float)delta[j];
        }
    }

    model.WriteWithReplaced(outPath, host, weights, replace: true);
    Console.WriteLine($"wrote {outPath}: '{key.Parameter}' carries the key's {t} bits");
    return 0;
}

