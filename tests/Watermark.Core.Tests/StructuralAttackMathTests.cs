using System;
using System.Linq;
using Watermark.Attacks;
using Xunit;

namespace Watermark.Tests;

/// <summary>The managed math of the output-side transforms and the dummy neurons, on small hand-checked tensors.</summary>
public class StructuralAttackMathTests
{
    // An evaluation-mode batch norm of one channel, in double.
    private static double Norm(double x, double gamma, double beta, double mean, double variance, double epsilon = BatchNormAbsorption.DefaultEpsilon) =>
        (gamma * (x - mean) / Math.Sqrt(variance + epsilon)) + beta;

    [Fact]
    public void TheBatchNormAbsorbsPositiveScalesEpsilonIncluded()
    {
        float[] mean = [0.3f, -1.2f, 0.01f];
        float[] variance = [2.0f, 0.5f, 1e-6f];
        float[] factors = [20f, 0.05f, 3f];
        var scaled = BatchNormAbsorption.Feasible(factors, variance);
        Assert.Equal(factors, scaled); // 0.05² · (0.5 + ε) > ε: nothing to raise
        var (newMean, newVariance) = (mean.ToArray(), variance.ToArray());
        BatchNormAbsorption.AbsorbScale(newMean, newVariance, scaled);
        foreach (var x in new[] { -2.0, 0.1, 5.0 })
        {
            for (var o = 0; o < 3; o++)
            {
                var before = Norm(x, 1.3, -0.2, mean[o], variance[o]);
                var after = Norm(scaled[o] * x, 1.3, -0.2, newMean[o], newVariance[o]);
                Assert.Equal(before, after, (Math.Abs(before) * 1e-6) + 1e-9);
            }
        }

        // The plain a²σ² would be off by ε(1 − a²)/(…): visible for the tiny variance.
        Assert.NotEqual(9f * 1e-6f, newVariance[2]);
    }

    [Fact]
    public void AFactorThatWouldMakeTheVarianceNegativeIsRaised()
    {
        float[] variance = [1e-7f, 1f];
        var raised = BatchNormAbsorption.Feasible([0.01f, 0.01f], variance);
        Assert.True(raised[0] >= Math.Sqrt(1e-5 / (1e-7 + 1e-5)) - 1e-6, $"{raised[0]}");
        Assert.Equal(0.01f, raised[1]);
        float[] mean = [1f, 1f];
        BatchNormAbsorption.AbsorbScale(mean, variance, raised);
        Assert.True(variance[0] >= 0);

        float[] tiny = [1e-7f];
        Assert.Throws<ArgumentException>(() => BatchNormAbsorption.AbsorbScale(new float[1], tiny, [0.01f]));
        Assert.Throws<ArgumentException>(() => BatchNormAbsorption.Feasible([-1f], [1f]));
    }

    [Fact]
    public void TheBatchNormAbsorbsSignFlipsExactly()
    {
        float[] gamma = [1.5f, -0.7f];
        float[] mean = [0.4f, -0.1f];
        var (newGamma, newMean) = (gamma.ToArray(), mean.ToArray());
        BatchNormAbsorption.AbsorbFlip(newGamma, newMean, [true, false]);
        Assert.Equal([-1.5f, -0.7f], newGamma);
        Assert.Equal([-0.4f, -0.1f], newMean);
        Assert.Equal(Norm(0.9, gamma[0], 0.2, mean[0], 0.8), Norm(-0.9, newGamma[0], 0.2, newMean[0], 0.8));
    }

    [Fact]
    public void SignFlipNegatesExactlyTheChosenFraction()
    {
        var flipped = SignFlip.Random(1000, 0.3, seed: 2);
        Assert.Equal(300, flipped.Count(f => f));
        Assert.Equal(flipped, SignFlip.Random(1000, 0.3, seed: 2));
        float[] w = [1, 2, 3, 4, 5, 6];
        SignFlip.Apply(w, [2, 3], 0, [false, true]);
        Assert.Equal([1f, 2, 3, -4, -5, -6], w);
        SignFlip.Apply(w, [2, 3], 1, [true, false, false]);
        Assert.Equal([-1f, 2, 3, 4, -5, -6], w);
        Assert.Throws<ArgumentOutOfRangeException>(() => SignFlip.Random(4, 1.5, seed: 1));
    }

    // A producer (conv [I, 2] with bias, batch-norm statistics [I]) and a host [O, I, 2] with I = 3, O = 2.
    private static (ChannelTensor[] Producer, ChannelTensor Host) Layer()
    {
        var conv = new ChannelTensor([1, 2, 3, 4, 5, 6], [3, 2], 0);
        var bias = new ChannelTensor([0.1f, 0.2f, 0.3f], [3], 0);
        var variance = new ChannelTensor([1.1f, 1.2f, 1.3f], [3], 0);
        var host = new ChannelTensor([.. Enumerable.Range(1, 12).Select(v => (float)v)], [2, 3, 2], 1);
        return ([conv, bias, variance], host);
    }

    // The host's response Σ_i slice_i · activation_i, per filter and kernel entry, for activations given per source channel.
    private static double[] Response(ChannelTensor host, int[] sources, double[] activation)
    {
        var (outputs, width, inner) = ((int)host.Shape[0], (int)host.Shape[1], (int)host.Shape[2]);
        var response = new double[outputs * inner];
        for (var o = 0; o < outputs; o++)
        {
            for (var i = 0; i < width; i++)
            {
                for (var k = 0; k < inner; k++)
                {
                    response[(o * inner) + k] += host.Values[(((o * width) + i) * inner) + k] * activation[sources[i]];
                }
            }
        }

        return response;
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(6)]
    public void CliqueChannelsCopyAProducerChannelAndCancelInTheHost(int count)
    {
        var (producer, host) = Layer();
        var result = DummyNeurons.Clique(producer, host, count, seed: 5);
        Assert.Equal(count, result.Added.Count);
        Assert.Equal([2L, 3 + count, 2], result.Host.Shape.ToArray());
        Assert.Equal([3L + count, 2], result.Producer[0].Shape.ToArray());

        // The originals keep their order; each added channel's producer values are its source's.
        Assert.Equal([0, 1, 2], Enumerable.Range(0, 3 + count).Where(i => !result.Added.Contains(i)).Select(i => result.Sources[i]));
        for (var i = 0; i < 3 + count; i++)
        {
            var s = result.Sources[i];
            Assert.Equal(producer[0].Values.Skip(2 * s).Take(2), result.Producer[0].Values.Skip(2 * i).Take(2));
            Assert.Equal(producer[1].Values[s], result.Producer[1].Values[i]);
            Assert.Equal(producer[2].Values[s], result.Producer[2].Values[i]);
        }

        double[] activation = [0.7, 1.9, 0.3];
        var expected = Response(host, [0, 1, 2], activation);
        var actual = Response(result.Host, [.. result.Sources], activation);
        Assert.All(expected.Zip(actual), p => Assert.Equal(p.First, p.Second, 1e-4));

        // The added slices are not zero: the host's weights really changed.
        Assert.Contains(result.Added, i => result.Host.Values[(i * 2) + 0] != 0);
        Assert.Equal(result.Host.Values, DummyNeurons.Clique(producer, host, count, seed: 5).Host.Values);
    }

    [Fact]
    public void SplitChannelsShareTheirHostSlice()
    {
        var (producer, host) = Layer();
        var result = DummyNeurons.Split(producer, host, 2, seed: 3);
        Assert.Equal(2, result.Added.Count);
        Assert.Equal([2L, 5, 2], result.Host.Shape.ToArray());
        double[] activation = [0.7, 1.9, 0.3];
        var expected = Response(host, [0, 1, 2], activation);
        var actual = Response(result.Host, [.. result.Sources], activation);
        Assert.All(expected.Zip(actual), p => Assert.Equal(p.First, p.Second, 1e-5));

        // Each split channel's two slices are λV and V − λV with λ in [0.1, 0.9].
        foreach (var added in result.Added)
        {
            var source = result.Sources[added];
            var original = Enumerable.Range(0, 5).Single(i => result.Sources[i] == source && !result.Added.Contains(i));
            var v = host.Values[source * 2];
            var lambda = result.Host.Values[original * 2] / v;
            Assert.InRange(lambda, 0.1f, 0.9f);
            Assert.Equal(v - (lambda * v), result.Host.Values[added * 2], 1e-5);
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => DummyNeurons.Split(producer, host, 4, seed: 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => DummyNeurons.Clique(producer, host, 1, seed: 3));
        Assert.Throws<ArgumentException>(() => DummyNeurons.Clique([new ChannelTensor([1, 2], [2], 0)], host, 2, seed: 3));
    }
}
