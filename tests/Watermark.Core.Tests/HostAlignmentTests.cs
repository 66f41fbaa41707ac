using System;
using System.Linq;
using System.Reflection;
using Watermark.Alignment;
using Watermark.Attacks;
using Xunit;

namespace Watermark.Tests;

public class HostAlignmentTests
{
    private const int Outputs = 64;
    private const int Inputs = 64;

    private static readonly long[] HostShape = [Outputs, Inputs, 3, 3];

    private static WatermarkKey Key(int n, long[]? shape = null) =>
        WatermarkKey.Create("host.weight", shape ?? HostShape, 64, KeyKind.Random, null, 0.01, null, false, TestSeeds.Numbered(n));

    private static double BitErrorRate(WatermarkKey key, float[] weight) => Extractor.Extract(key, weight, key.Shape).BitErrorRate;

    /// <summary>The fraction of bits two weights disagree on under a key (for keys whose bits were never embedded).</summary>
    private static double Disagreement(WatermarkKey key, float[] a, float[] b)
    {
        var x = Extractor.Extract(key, a, key.Shape).ExtractedBits;
        var y = Extractor.Extract(key, b, key.Shape).ExtractedBits;
        return x.Zip(y, (p, q) => p != q).Count(d => d) / (double)x.Length;
    }

    private static double FilterMeanCosine(float[] a, float[] b, long[] shape)
    {
        var u = FilterMean.Compute(a, shape);
        var v = FilterMean.Compute(b, shape);
        return u.Zip(v, (p, q) => p * q).Sum() / Math.Sqrt(u.Sum(p => p * p) * v.Sum(q => q * q));
    }

    private static AlignmentResult Align(SyntheticLayer reference, SyntheticLayer suspect, bool signatures) =>
        HostAlignment.Align(
            reference.Host,
            reference.Shape,
            suspect.Host,
            suspect.Shape,
            signatures ? reference.Signature() : null,
            signatures ? suspect.Signature() : null);

    /// <summary>For each reference index, where the permutation (result[j] = input[permutation[j]]) put it.</summary>
    private static int[] Inverse(int[] permutation)
    {
        var inverse = new int[permutation.Length];
        for (var j = 0; j < permutation.Length; j++)
        {
            inverse[permutation[j]] = j;
        }

        return inverse;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void InputPermutationScramblesTheMarkAndAlignmentRestoresIt(bool signatures)
    {
        var key = Key(1);
        var reference = SyntheticLayer.Create(Outputs, Inputs, 3, seed: 11, key);
        Assert.Equal(0, BitErrorRate(key, reference.Host));
        var permutation = ChannelPermutation.Random(Inputs, 12);
        var suspect = reference.PermuteInputs(permutation);
        // The attack works: the filter mean is scrambled and the mark reads as chance.
        Assert.InRange(BitErrorRate(key, suspect.Host), 0.3, 0.7);

        var result = Align(reference, suspect, signatures);
        Console.WriteLine($"input permutation, signatures {signatures}:\n{result}");
        Assert.Equal(Inverse(permutation), result.InputMatch.ToArray());
        Assert.Equal(Enumerable.Range(0, Outputs), result.OutputMatch);
        Assert.Equal(0, result.SignsFlipped);
        Assert.True(result.IsConfident);
        Assert.True(result.MinInputCosine > 0.9999, result.ToString());
        Assert.Equal(0, BitErrorRate(key, [.. result.AlignedWeight]));
    }

    [Fact]
    public void InputScalesOfTwentyFoldAreUndone()
    {
        var key = Key(2);
        var reference = SyntheticLayer.Create(Outputs, Inputs, 3, seed: 21, key);
        var factors = ChannelScaling.Random(Inputs, 20, 22);
        var suspect = reference.ScaleInputs(factors);
        var before = BitErrorRate(key, suspect.Host);
        // The mark's wide margins absorb part of the damage; keys never embedded show how far w moved.
        var moved = Enumerable.Range(100, 8).Select(n => Disagreement(Key(n), reference.Host, suspect.Host)).Average();
        var result = Align(reference, suspect, signatures: false);
        Console.WriteLine($"input scales ×[1/20, 20]: marked BER {before:0.000}, unmarked keys' bit disagreement {moved:0.000} before alignment\n{result}");
        Assert.True(moved > 0.2, $"disagreement {moved} before alignment: the scaling should move the filter mean");
        Assert.Equal(Enumerable.Range(0, Inputs), result.InputMatch);
        // Suspect slices are the reference's ÷ α: the recovered scales are 1/α up to one common factor.
        var ratios = Enumerable.Range(0, Inputs).Select(i => result.InputScales[i] * factors[i]).ToArray();
        Assert.True(ratios.Max() / ratios.Min() < 1.0001, $"scale ratios {ratios.Min()}..{ratios.Max()}");
        Assert.Equal(0, BitErrorRate(key, [.. result.AlignedWeight]));
    }

    [Fact]
    public void OutputPermutationSignsAndScalesAreUndone()
    {
        var key = Key(3);
        var reference = SyntheticLayer.Create(Outputs, Inputs, 3, seed: 31, key);
        var random = new Random(32);
        var permutation = ChannelPermutation.Random(Outputs, 33);
        var scales = ChannelScaling.Random(Outputs, 20, 34);
        var flips = Enumerable.Range(0, Outputs).Select(_ => random.Next(2) == 0).ToArray();
        var suspect = reference.TransformOutputs(permutation, scales, flips);
        var before = BitErrorRate(key, suspect.Host);
        var result = Align(reference, suspect, signatures: false);
        Console.WriteLine($"output permutation + signs + scales: BER {before:0.000} before alignment\n{result}");
        Assert.True(before > 0.2, $"BER {before} before alignment: signs and scales should move the filter mean");
        var inverse = Inverse(permutation);
        Assert.Equal(inverse, result.OutputMatch.ToArray());
        Assert.Equal(flips.Count(f => f), result.SignsFlipped);
        for (var o = 0; o < Outputs; o++)
        {
            Assert.Equal(flips[inverse[o]] ? -1 : 1, result.OutputSigns[o]);
        }

        Assert.Equal(Enumerable.Range(0, Inputs), result.InputMatch);
        Assert.Equal(0, BitErrorRate(key, [.. result.AlignedWeight]));
    }

    [Fact]
    public void DummyChannelsAreMergedAndDroppedWithProducerSignatures()
    {
        var key = Key(4);
        var reference = SyntheticLayer.Create(Outputs, Inputs, 3, seed: 41, key);
        // Two cliques (channels 64–65 and 66–67) and two splits (copies of channels 5 and 40 at 68 and 69).
        var suspect = reference.AddClique(42).AddClique(43).Split(5, 44).Split(40, 45);
        Assert.Equal(Inputs + 6, suspect.Inputs);
        // The key no longer even applies: the shape changed.
        Assert.Throws<WatermarkException>(() => Extractor.Extract(key, suspect.Host, suspect.Shape));

        var result = Align(reference, suspect, signatures: true);
        Console.WriteLine($"NeuronClique ×2 + NeuronSplit ×2:\n{result}");
        Assert.Equal(HostShape, result.Shape);
        Assert.Equal(4, result.MergedGroups.Length);
        Assert.Contains(result.MergedGroups, g => g.SequenceEqual([5, 68]));
        Assert.Contains(result.MergedGroups, g => g.SequenceEqual([40, 69]));
        Assert.Equal([64, 65, 66, 67], result.DroppedInputs.ToArray());
        Assert.Equal(Enumerable.Range(0, Inputs), result.InputMembers.Select(m => m.Min()));
        Assert.True(result.MinInputCosine > 0.9999, result.ToString());
        Assert.Equal(0, BitErrorRate(key, [.. result.AlignedWeight]));
    }

    [Fact]
    public void DeadChannelsAreNotMergedAsCopies()
    {
        // A dead channel (γ ≈ 0, β < 0: its ReLU never opens) has a signature made of its bias term alone, so
        // dead channels are parallel as a whole; a fine-tuned WRN-10-2 had five such channels in
        // g2.block0.bn2, and merging them left fewer channels than the reference (an error). Copies are
        // parallel in the filter part as well; dead channels' tiny filters are not.
        var key = Key(6);
        var reference = SyntheticLayer.Create(Outputs, Inputs, 3, seed: 61, key);
        var random = new Random(62);
        long[] convShape = [Inputs, 16, 3, 3];
        var conv = Enumerable.Range(0, Inputs * 16 * 9).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();
        var gamma = Enumerable.Range(0, Inputs).Select(c => c < 5 ? 0.0005f + (0.0001f * c) : (float)(0.3 + (0.7 * random.NextDouble()))).ToArray();
        var beta = Enumerable.Range(0, Inputs).Select(c => c < 5 ? -0.05f - (0.01f * c) : (float)(random.NextDouble() - 0.5)).ToArray();
        var mean = Enumerable.Range(0, Inputs).Select(_ => (float)(random.NextDouble() * 0.1)).ToArray();
        var variance = Enumerable.Range(0, Inputs).Select(_ => (float)(0.5 + random.NextDouble())).ToArray();
        var signature = ProducerSignature.FromConvBatchNorm(conv, convShape, gamma, beta, mean, variance);

        var result = HostAlignment.Align(reference.Host, reference.Shape, reference.Host, reference.Shape, signature, signature);
        Assert.Empty(result.MergedGroups);
        Assert.Equal(Enumerable.Range(0, Inputs), result.InputMatch);
        Assert.Equal(0, BitErrorRate(key, [.. result.AlignedWeight]));
    }

    [Fact]
    public void CliquesAndDummyFiltersAreDroppedWithoutProducerSignatures()
    {
        var key = Key(5);
        var reference = SyntheticLayer.Create(Outputs, Inputs, 3, seed: 51, key);
        var suspect = reference.AddClique(52).AddOutputs(3, 53);
        var result = Align(reference, suspect, signatures: false);
        Console.WriteLine($"NeuronClique + 3 dummy filters, no signatures:\n{result}");
        Assert.Equal([64, 65], result.DroppedInputs.ToArray());
        Assert.Equal([64, 65, 66], result.DroppedOutputs.ToArray());
        Assert.Equal(0, BitErrorRate(key, [.. result.AlignedWeight]));
    }

    /// <summary>Every transform at once, with fine-tuning noise of a given size (relative to each input slice's spread) and a 2 % shrink.</summary>
    [Theory]
    [InlineData(0.0, true)]
    [InlineData(0.05, true)]
    [InlineData(0.1, true)]
    [InlineData(0.2, true)]
    [InlineData(0.5, true)]
    [InlineData(0.0, false)]
    [InlineData(0.05, false)]
    [InlineData(0.1, false)]
    [InlineData(0.2, false)]
    [InlineData(0.5, false)]
    [InlineData(1.0, true)]
    [InlineData(1.0, false)]
    public void AllTransformsTogetherThenFineTuning(double noise, bool signatures)
    {
        var key = Key(6);
        var reference = SyntheticLayer.Create(Outputs, Inputs, 3, seed: 61, key);
        var random = new Random(62);
        // Without signatures a split cannot be told from two channels; the test then uses cliques only.
        // Fine-tuning noise goes in before the function-preserving transforms: the same, in distribution, as
        // noise after them with each weight's step proportional to its transformed size.
        var dummies = (signatures ? reference.AddClique(63).Split(7, 64) : reference.AddClique(63)).FineTune(noise, 0.02, 70);
        var inputPermutation = ChannelPermutation.Random(dummies.Inputs, 65);
        var outputPermutation = ChannelPermutation.Random(Outputs, 66);
        var flips = Enumerable.Range(0, Outputs).Select(_ => random.Next(2) == 0).ToArray();
        var suspect = dummies
            .ScaleInputs(ChannelScaling.Random(dummies.Inputs, 20, 67))
            .PermuteInputs(inputPermutation)
            .TransformOutputs(outputPermutation, ChannelScaling.Random(Outputs, 20, 68), flips)
            .AddOutputs(2, 69);

        var result = Align(reference, suspect, signatures);
        var where = Inverse(inputPermutation);
        var inputsRight = Enumerable.Range(0, Inputs).Count(i => result.InputMembers[i].Contains(where[i])) / (double)Inputs;
        var outputsRight = Enumerable.Range(0, Outputs).Count(o => result.OutputMatch[o] == Inverse(outputPermutation)[o]) / (double)Outputs;
        var aligned = result.AlignedWeight.ToArray();
        var meanCosine = FilterMeanCosine(reference.Host, aligned, HostShape);
        var ber = BitErrorRate(key, aligned);
        // Keys never embedded: how far the aligned weight's bits are from the reference's own (no margin to absorb noise).
        var randomKeys = Enumerable.Range(100, 8).Select(n => Disagreement(Key(n), reference.Host, aligned)).Average();
        Console.WriteLine(FormattableString.Invariant(
            $"all transforms, noise {noise}, signatures {signatures}: inputs right {inputsRight:P1}, outputs right {outputsRight:P1}, filter-mean cos {meanCosine:0.0000}, marked BER {ber:0.000}, unmarked keys' bit disagreement {randomKeys:0.000}\n{result}"));

        if (noise <= 0.5)
        {
            Assert.True(result.IsConfident, result.ToString());
        }

        if (noise <= 0.2)
        {
            Assert.True(inputsRight >= 0.95, $"inputs right {inputsRight}");
            Assert.True(outputsRight >= 0.95, $"outputs right {outputsRight}");
            Assert.True(ber <= 0.02, $"BER {ber}");
        }

        if (noise <= 0.1)
        {
            Assert.True(meanCosine >= 0.99, $"filter-mean cos {meanCosine}");
            Assert.Equal(1.0, inputsRight);
            Assert.Equal(1.0, outputsRight);
        }
    }

    /// <summary>
    /// I.i.d. Gaussian weights (times per-channel and per-filter gains): nothing but sampling differences tells
    /// channels apart. Every transform except dummies, fine-tuning noise of the given size.
    /// </summary>
    [Theory]
    [InlineData(3, 0.05)]
    [InlineData(3, 0.1)]
    [InlineData(3, 0.2)]
    [InlineData(1, 0.05)]
    [InlineData(1, 0.1)]
    [InlineData(1, 0.2)]
    [InlineData(3, 0.5)]
    [InlineData(1, 0.5)]
    public void UnstructuredGaussianWeights(int kernelSide, double noise)
    {
        var linear = kernelSide == 1;
        long[] shape = linear ? [Outputs, Inputs] : HostShape;
        var key = WatermarkKey.Create("host.weight", shape, 32, KeyKind.Random, null, 0.01, null, false, TestSeeds.Numbered(9));
        var reference = SyntheticLayer.Create(Outputs, Inputs, kernelSide, seed: 101, key, linear, iid: true);
        var permutation = ChannelPermutation.Random(Inputs, 102);
        var outputPermutation = ChannelPermutation.Random(Outputs, 103);
        var fineTuned = reference.FineTune(noise, 0.02, 104);
        // What fine-tuning alone costs the mark: alignment cannot do better, and should not do worse.
        var baseline = BitErrorRate(key, fineTuned.Host);
        var suspect = fineTuned
            .ScaleInputs(ChannelScaling.Random(Inputs, 20, 105))
            .PermuteInputs(permutation)
            .TransformOutputs(outputPermutation, ChannelScaling.Random(Outputs, 20, 106), [.. Enumerable.Range(0, Outputs).Select(o => o % 3 == 0)]);
        foreach (var signatures in new[] { false, true })
        {
            var result = Align(reference, suspect, signatures);
            var where = Inverse(permutation);
            var inputsRight = Enumerable.Range(0, Inputs).Count(i => result.InputMatch[i] == where[i]) / (double)Inputs;
            var outputsRight = Enumerable.Range(0, Outputs).Count(o => result.OutputMatch[o] == Inverse(outputPermutation)[o]) / (double)Outputs;
            var ber = BitErrorRate(key, [.. result.AlignedWeight]);
            Console.WriteLine(FormattableString.Invariant(
                $"i.i.d. {Capacity.ShapeText(shape)}, noise {noise}, signatures {signatures}: inputs right {inputsRight:P1}, outputs right {outputsRight:P1}, marked BER {ber:0.000} (fine-tuning alone {baseline:0.000})\n{result}"));
            // The one case past the method's reach (64 values per linear column, noise of half their spread,
            // nothing else to go on) must at least say so: a match is never confidently wrong.
            Assert.True(result.IsConfident || (linear && noise >= 0.5 && !signatures), result.ToString());
            if (result.IsConfident)
            {
                Assert.True(inputsRight >= 0.95 && outputsRight >= 0.95, result.ToString());
                Assert.True(ber <= baseline + 0.02, $"BER {ber} after alignment, {baseline} from fine-tuning alone");
            }
        }
    }

    [Fact]
    public void LinearLayersAlignToo()
    {
        long[] shape = [Outputs, Inputs];
        var key = WatermarkKey.Create("fc.weight", shape, 32, KeyKind.Random, null, 0.01, null, false, TestSeeds.Numbered(7));
        var reference = SyntheticLayer.Create(Outputs, Inputs, 1, seed: 71, key, linear: true);
        var permutation = ChannelPermutation.Random(Inputs, 72);
        var suspect = reference
            .FineTune(0.05, 0.02, 76)
            .ScaleInputs(ChannelScaling.Random(Inputs, 20, 73))
            .PermuteInputs(permutation)
            .TransformOutputs(ChannelPermutation.Random(Outputs, 74), ChannelScaling.Random(Outputs, 20, 75), [.. Enumerable.Range(0, Outputs).Select(o => o % 3 == 0)]);
        var result = Align(reference, suspect, signatures: false);
        Console.WriteLine($"linear [64, 64], all transforms, noise 0.05:\n{result}");
        Assert.Equal(Inverse(permutation), result.InputMatch.ToArray());
        Assert.True(BitErrorRate(key, [.. result.AlignedWeight]) <= 0.02);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AnIndependentWeightIsNotAConfidentMatch(bool signatures)
    {
        var key = Key(8);
        var reference = SyntheticLayer.Create(Outputs, Inputs, 3, seed: 81, key);
        // Same construction, other seed: the same statistics, no common ancestry.
        var other = SyntheticLayer.Create(Outputs, Inputs, 3, seed: 82);
        var result = Align(reference, other, signatures);
        // Not asserted (measuring the null after alignment is its own task), but shown: matching an unrelated
        // weight to a marked reference pulls its bits towards the mark.
        Console.WriteLine($"independent weight, signatures {signatures}: marked BER {BitErrorRate(key, other.Host):0.000} before, {BitErrorRate(key, [.. result.AlignedWeight]):0.000} after alignment\n{result}");
        Assert.False(result.IsConfident, result.ToString());
        Assert.True(result.MeanInputCosine < 0.35 && result.MeanOutputCosine < 0.35, result.ToString());
    }

    [Fact]
    public void TheAlignmentApiCannotBeGivenAKey()
    {
        // The match maximises similarity to the reference; if it could see the key it could also pick the
        // alignment that best reproduces the mark. No public member of Watermark.Alignment takes or exposes
        // key material, so a caller cannot hand it one.
        Type[] forbidden = [typeof(WatermarkKey), typeof(Keyring), typeof(SecretSeed), typeof(KeyKind), typeof(Message), typeof(BchCode)];
        var types = typeof(HostAlignment).Assembly.GetTypes()
            .Where(t => t.Namespace == "Watermark.Alignment")
            .ToArray();
        Assert.Contains(typeof(HostAlignment), types);
        Assert.Contains(typeof(AlignmentResult), types);
        bool Mentions(Type type) =>
            forbidden.Contains(type)
            || (type.HasElementType && Mentions(type.GetElementType()!))
            || (type.IsGenericType && type.GetGenericArguments().Any(Mentions));
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (var type in types)
        {
            foreach (var method in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
            {
                Assert.False(method.GetParameters().Any(p => Mentions(p.ParameterType)), $"{type.Name}.{method.Name} takes key material");
                Assert.False(method is MethodInfo info && Mentions(info.ReturnType), $"{type.Name}.{method.Name} returns key material");
            }

            Assert.False(type.GetProperties(all).Any(p => Mentions(p.PropertyType)), $"{type.Name} holds key material");
            Assert.False(type.GetFields(all).Any(f => Mentions(f.FieldType)), $"{type.Name} holds key material");
        }
    }

    [Fact]
    public void ArgumentsAreChecked()
    {
        var reference = SyntheticLayer.Create(8, 8, 3, seed: 91);
        var smaller = SyntheticLayer.Create(8, 6, 3, seed: 92);
        Assert.Contains("fewer channels", Assert.Throws<ArgumentException>(() => Align(reference, smaller, false)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => HostAlignment.Align(reference.Host, reference.Shape, reference.Host, [8, 8, 1, 9]));
        Assert.Throws<ArgumentException>(() => HostAlignment.Align(reference.Host, reference.Shape, reference.Host, [8, 8, 9]));
        Assert.Throws<ArgumentException>(() => HostAlignment.Align(reference.Host, reference.Shape, reference.Host, reference.Shape, reference.Signature()));
        var broken = (float[])reference.Host.Clone();
        broken[3] = float.NaN;
        Assert.Contains("non-finite", Assert.Throws<ArgumentException>(() => HostAlignment.Align(reference.Host, reference.Shape, broken, reference.Shape)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => HostAlignment.Align(reference.Host, reference.Shape, reference.Host, reference.Shape, options: new AlignmentOptions { MergeThreshold = 0 }));
    }

    [Fact]
    public void TheConvBatchNormSignatureFollowsTheActivationScale()
    {
        var layer = SyntheticLayer.Create(4, 6, 3, seed: 95);
        var plain = layer.Signature();
        Assert.Equal(6, plain.Channels);
        Assert.Equal((SyntheticLayer.ProducerInputs * 9) + 1, plain.Length);
        // Scaling the conv filter is absorbed by the running statistics: the effective neuron is unchanged.
        var conv = (float[])layer.Producer.Clone();
        ChannelScaling.Apply(conv, layer.ProducerShape, 0, Enumerable.Repeat(3f, 6).ToArray());
        var absorbed = ProducerSignature.FromConvBatchNorm(conv, layer.ProducerShape, layer.Gamma, layer.Beta, [.. layer.Mean.Select(m => m * 3)], [.. layer.Variance.Select(v => v * 9)], epsilon: 0);
        var exact = ProducerSignature.FromConvBatchNorm(layer.Producer, layer.ProducerShape, layer.Gamma, layer.Beta, layer.Mean, layer.Variance, epsilon: 0);
        for (var c = 0; c < 6; c++)
        {
            for (var e = 0; e < exact.Length; e++)
            {
                Assert.Equal(exact.Row(c)[e], absorbed.Row(c)[e], 5);
            }
        }

        // The generic form concatenates slices per channel.
        var generic = new ProducerSignature([new SignatureTensor(new float[] { 1, 2, 3, 4, 5, 6 }, [3, 2], 0), new SignatureTensor(new float[] { 7, 8, 9 }, [3], 0)]);
        Assert.Equal([3.0, 4.0, 8.0], generic.Row(1).ToArray());
        Assert.Throws<ArgumentException>(() => new ProducerSignature([new SignatureTensor(new float[6], [3, 2], 0), new SignatureTensor(new float[2], [2], 0)]));
    }
}
