using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using WideResNet.Model;
using Xunit;
using static TorchSharp.torch;

namespace WideResNet.Tests;

/// <summary>
/// ResNet-20 against PyTorch: Fixtures/resnet20-pytorch.txt is what <c>python3 bench/resnet20.py</c>
/// printed with PyTorch 1.13 (the akamaster/pytorch_resnet_cifar10 network): parameter count, every
/// state_dict name and shape, and the logits of a fixed input with every tensor filled by the same
/// closed-form formula (eval and train mode). No Python is needed to run these tests.
/// </summary>
[Collection(SequentialTorch.Name)]
public sealed class ResNet20Tests
{
    private static readonly Lazy<Reference> PyTorch = new(Reference.Read);

    [Fact]
    public void HasTheParameterCountOfHeEtAl()
    {
        using var model = new ResNet20();
        Assert.Equal(269_722L, model.parameters().Sum(p => p.numel()));
        Assert.Equal(PyTorch.Value.Parameters, model.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void StateDictNamesAndShapesAreThoseOfThePyTorchNetwork()
    {
        using var model = new ResNet20();
        // By name: TorchSharp lists all parameters before all buffers, PyTorch module by module; loading goes by name.
        var ours = model.state_dict().Select(e => $"{e.Key} [{string.Join(", ", e.Value.shape)}]").Order(StringComparer.Ordinal).ToList();
        var theirs = PyTorch.Value.Entries.Select(e => $"{e.Name} [{string.Join(", ", e.Shape)}]").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(116, theirs.Count); // 19 convs, 19 BNs × 5 (weight, bias, running mean and var, batches tracked), the linear layer × 2
        Assert.Equal(theirs, ours);
    }

    [Fact]
    public void ClassifiesABatchIntoTenClasses()
    {
        using var model = new ResNet20();
        using var input = randn(5, 3, 32, 32);
        using var output = model.forward(input);
        Assert.Equal([5L, 10L], output.shape);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ComputesWhatPyTorchComputesWithTheSameWeights(bool training)
    {
        var reference = PyTorch.Value;
        using var model = new ResNet20();
        var entries = model.state_dict();
        using (no_grad())
        {
            for (var k = 0; k < reference.Entries.Count; k++)
            {
                var (name, shape) = reference.Entries[k];
                var target = entries[name];
                var values = Enumerable.Range(0, (int)target.numel()).Select(j => Value(name, shape, k, j)).ToArray();
                using var filled = tensor(values, dtype: ScalarType.Float64).reshape(shape).to(target.dtype);
                target.copy_(filled);
            }
        }

        model.train(training);
        using var input = tensor(Enumerable.Range(0, 2 * 3 * 32 * 32).Select(j => Math.Sin(0.01 * j) + (0.5 * Math.Cos(0.031 * j))).ToArray(), dtype: ScalarType.Float64).reshape(2, 3, 32, 32).to(ScalarType.Float32);
        using var noGrad = no_grad();
        using var output = model.forward(input);
        var ours = output.data<float>().ToArray();
        var theirs = training ? reference.Train : reference.Eval;
        Assert.Equal(20, theirs.Length);
        var scale = theirs.Max(Math.Abs);
        for (var i = 0; i < ours.Length; i++)
        {
            Assert.True(Math.Abs(ours[i] - theirs[i]) <= 1e-4 * scale, $"logit {i}: ours {ours[i]}, PyTorch {theirs[i]} (largest {scale})");
        }
    }

    // bench/resnet20.py's deterministic_value, term for term.
    private static double Value(string name, long[] shape, int tensorIndex, int j)
    {
        var s = Math.Sin((12.9898 * j) + (1.3 * tensorIndex));
        if (name.EndsWith("running_var", StringComparison.Ordinal))
        {
            return 1.0 + (0.5 * s * s);
        }

        if (name.EndsWith("num_batches_tracked", StringComparison.Ordinal))
        {
            return 0;
        }

        if (name.EndsWith("weight", StringComparison.Ordinal) && shape.Length > 1)
        {
            var fanIn = shape.Skip(1).Aggregate(1L, (a, d) => a * d);
            return Math.Sqrt(3.0 / fanIn) * s;
        }

        return name.EndsWith("weight", StringComparison.Ordinal) ? 1.0 + (0.1 * s) : 0.1 * s;
    }

    private sealed record Reference(long Parameters, IReadOnlyList<(string Name, long[] Shape)> Entries, double[] Eval, double[] Train)
    {
        public static Reference Read()
        {
            long parameters = 0;
            var entries = new List<(string, long[])>();
            double[] eval = [], train = [];
            foreach (var line in File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Fixtures", "resnet20-pytorch.txt")))
            {
                var space = line.IndexOf(' ', StringComparison.Ordinal);
                var (head, rest) = (line[..space], line[(space + 1)..]);
                static double[] Numbers(string text) => text.Split(' ').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
                switch (head)
                {
                    case "parameters": parameters = long.Parse(rest, CultureInfo.InvariantCulture); break;
                    case "eval": eval = Numbers(rest); break;
                    case "train": train = Numbers(rest); break;
                    default:
                        var dims = rest.Trim('[', ']');
                        entries.Add((head, dims.Length == 0 ? [] : dims.Split(", ").Select(d => long.Parse(d, CultureInfo.InvariantCulture)).ToArray()));
                        break;
                }
            }

            return new Reference(parameters, entries, eval, train);
        }
    }
}
