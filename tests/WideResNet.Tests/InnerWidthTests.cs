using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using TorchSharp;
using Watermark.Attacks;
using Watermark.Formats;
using WideResNet.Model;
using Xunit;
using static TorchSharp.torch;

namespace WideResNet.Tests;

/// <summary>
/// The sample's networks with another width between a block's two convs (what NeuronClique/NeuronSplit
/// leave, <see cref="Experiments.Removal"/>): a widened copy of a network loads into them and computes what
/// the original computes.
/// </summary>
[Collection(SequentialTorch.Name)]
public sealed class InnerWidthTests
{
    private const int Added = Experiments.Removal.DummyChannels;

    [Theory]
    [InlineData("wrn", "g2.block0", "bn2", true)]
    [InlineData("wrn", "g2.block0", "bn2", false)]
    [InlineData("resnet20", "layer3.1", "bn1", true)]
    public void AWidenedCopyLoadsAndComputesTheSameFunction(string network, string block, string norm, bool clique)
    {
        var folder = Directory.CreateTempSubdirectory("wmk-inner-").FullName;
        try
        {
            manual_seed(3);
            using var original = Create(network, null);
            original.eval();
            // Batch norms with statistics of their own, so that copying them for the new channels matters.
            using (no_grad())
            {
                foreach (var (name, buffer) in original.named_buffers().Where(b => b.name.EndsWith("running_var", StringComparison.Ordinal)))
                {
                    buffer.uniform_(0.5, 2.0);
                }
            }

            var source = Path.Combine(folder, "original.dat");
            original.save(source);
            var file = ModelFile.Open(source);
            var host = file.Find($"{block}.conv2.weight");
            var producer = new[] { $"{block}.conv1.weight", $"{block}.{norm}.weight", $"{block}.{norm}.bias", $"{block}.{norm}.running_mean", $"{block}.{norm}.running_var" }.Select(n => (file.Find(n), 0)).ToList();
            var copy = Path.Combine(folder, "widened.dat");
            DummyNeurons.Write(file, producer, host, clique, Added, 1, copy);

            var width = host.Shape[1] + Added;
            using var attacked = Create(network, new Dictionary<string, long> { [block] = width });
            attacked.load(copy);
            attacked.eval();
            Assert.Equal(width, attacked.state_dict()[$"{block}.conv2.weight"].shape[1]);

            // In float32, as the removal experiment evaluates the copies (72 input channels is no multiple of 16, where
            // libtorch's float32 conv has been seen to be off on an AVX-512 CPU: StructuralAttackTests)...
            using (var input32 = randn(4, 3, 32, 32))
            using (var expected32 = original.forward(input32))
            using (var actual32 = attacked.forward(input32))
            {
                Assert.True(expected32.allclose(actual32, rtol: 1e-4, atol: 1e-4), $"float32: max difference {(expected32 - actual32).abs().max().ToDouble()}");
            }

            // ...and in float64, up to the float32 rounding of the widened weights.
            original.to(ScalarType.Float64);
            attacked.to(ScalarType.Float64);
            using var input = randn(4, 3, 32, 32, dtype: float64);
            using var expected = original.forward(input);
            using var actual = attacked.forward(input);
            Assert.True(expected.allclose(actual, rtol: 1e-6, atol: 1e-6), $"float64: max difference {(expected - actual).abs().max().ToDouble()}");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static nn.Module<Tensor, Tensor> Create(string network, IReadOnlyDictionary<string, long>? inner) => network == "wrn"
        ? new Model.WideResNet(10, 2, 10, inner)
        : new ResNet20(inner: inner);
}
