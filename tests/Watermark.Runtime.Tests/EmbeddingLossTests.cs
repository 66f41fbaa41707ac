using System;
using System.Linq;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Watermark.Tests;

[Collection(SequentialTorch.Name)]
public class EmbeddingLossTests
{
    [Fact]
    public void GradientMatchesFiniteDifferences()
    {
        torch.manual_seed(1);
        long[] shape = [8, 4, 3, 3];
        var key = TestSeeds.Key("w", shape, 20, seed: 1);
        using var w = torch.randn(shape, dtype: ScalarType.Float64).requires_grad_(true);
        using var loss = EmbeddingLoss.Compute(w, key);
        loss.backward();
        var grad = w.grad!.data<double>().ToArray();

        var values = w.detach().clone();
        double LossAt(Tensor v) => EmbeddingLoss.Compute(v, key).item<double>();
        const double h = 1e-6;
        foreach (var index in new long[] { 0, 5, 37, 100, 200, 287 })
        {
            using var plus = values.clone();
            using var minus = values.clone();
            plus.view(-1)[index] += h;
            minus.view(-1)[index] -= h;
            var numeric = (LossAt(plus) - LossAt(minus)) / (2 * h);
            Assert.True(Math.Abs(numeric - grad[index]) <= 1e-6 * Math.Max(1, Math.Abs(numeric)), $"d E_R / d W[{index}]: autograd {grad[index]:R}, numeric {numeric:R}");
        }
    }

    [Fact]
    public void LossIsTheSummedBinaryCrossEntropyOfTheProjection()
    {
        torch.manual_seed(2);
        long[] shape = [16, 8, 3, 3];
        var key = TestSeeds.Key("w", shape, 40, seed: 2);
        using var w = torch.randn(shape, dtype: ScalarType.Float64);
        var actual = EmbeddingLoss.Compute(w, key).item<double>();

        // By hand: E_R = −Σ_j [b_j log σ(y_j) + (1−b_j) log(1−σ(y_j))], y = X·filterMean(W).
        var mean = FilterMean.Compute(w.to(ScalarType.Float32).data<float>().ToArray(), shape);
        var x = key.ProjectionMatrix().ToArray();
        var b = key.TargetBits().ToArray();
        var expected = 0.0;
        for (var j = 0; j < 40; j++)
        {
            var y = Enumerable.Range(0, 72).Sum(i => x[(j * 72) + i] * mean[i]);
            var s = 1 / (1 + Math.Exp(-y));
            expected -= b[j] ? Math.Log(s) : Math.Log(1 - s);
        }

        Assert.Equal(expected, actual, 4);
        Assert.Equal(0.01 * actual, EmbeddingLoss.Weighted(w, key).item<double>(), 9);
    }

    [Fact]
    public void OptimizingTheEmbeddingLossAloneReachesZeroBitErrors()
    {
        torch.manual_seed(3);
        using var conv = nn.Conv2d(64, 64, 3);
        var key = TestSeeds.Key("weight", [64, 64, 3, 3], 256, seed: 3);
        Assert.InRange(key.Extract(conv.weight!).BitErrorRate, 0.35, 0.65);

        using var optimizer = optim.Adam(conv.parameters(), 0.01);
        for (var step = 0; step < 100; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            EmbeddingLoss.Compute(conv.weight!, key).backward();
            optimizer.step();
        }

        var result = key.Extract(conv.weight!);
        Assert.Equal(0.0, result.BitErrorRate);
        Assert.Equal(256, result.Matched);
        Assert.True(new VerificationResult([result]).IsPresent);
        Assert.Equal("8.64e-78", result.PValue.ToString());
    }

    [Fact]
    public void FarMoreBitsThanTheFilterMeanHoldsCannotBeEmbedded()
    {
        // The paper's capacity limit: M = 16 entries cannot carry 256 independent bits.
        torch.manual_seed(4);
        using var conv = nn.Conv2d(16, 8, 1);
        var key = TestSeeds.Key("weight", [8, 16, 1, 1], 256, seed: 4, allowOverCapacity: true);
        using var optimizer = optim.Adam(conv.parameters(), 0.01);
        for (var step = 0; step < 300; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            EmbeddingLoss.Compute(conv.weight!, key).backward();
            optimizer.step();
        }

        Assert.True(key.Extract(conv.weight!).BitErrorRate > 0.1);
    }

    [Fact]
    public void KeyTensorsOutliveTheDisposeScopeThatFirstUsedThem()
    {
        torch.manual_seed(5);
        using var conv = nn.Conv2d(8, 8, 3);
        var key = TestSeeds.Key("weight", [8, 8, 3, 3], 32, seed: 5);
        double first;
        using (NewDisposeScope())
        {
            first = EmbeddingLoss.Compute(conv.weight!, key).ToDouble();
        }

        using (NewDisposeScope())
        {
            Assert.Equal(first, EmbeddingLoss.Compute(conv.weight!, key).ToDouble());
        }
    }

    [Fact]
    public void WrongShapeIsRefusedBeforeAnyMath()
    {
        using var conv = nn.Conv2d(8, 8, 3);
        var key = TestSeeds.Key("weight", [8, 4, 3, 3], 16, seed: 6);
        var e = Assert.Throws<WatermarkException>(() => EmbeddingLoss.Compute(conv.weight!, key));
        Assert.Contains("[8, 4, 3, 3]", e.Message, StringComparison.Ordinal);
        Assert.Contains("[8, 8, 3, 3]", e.Message, StringComparison.Ordinal);
    }
}
