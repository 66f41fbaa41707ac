using System;
using System.Linq;
using Watermark.Formats;
using Xunit;
using Xunit.Abstractions;

namespace Watermark.Cli.Tests;

/// <summary>
/// The function-preserving attacks on both sides of the host (conv2 of <see cref="BlockNet"/>, marked on real
/// CIFAR-10 images): each one is checked to leave the logits on 128 real test images the same (float rounding
/// only) and measured against plain <c>verify</c>.
/// </summary>
[Collection(MarkedBlockNetGroup.Name)]
public class StructuralAttackTests(MarkedBlockNet net, ITestOutputHelper log)
{
    // Float rounding only: the logits agree to 1e-5 of their largest magnitude, and every class is the same.
    private const double Rounding = 1e-5;

    private static readonly string[] Bn1 = ["--also", "bn1.weight:0", "--also", "bn1.bias:0", "--also", "bn1.running_mean:0", "--also", "bn1.running_var:0"];

    [Fact]
    public void TheMarkedNetworkCarriesTheMark()
    {
        var (code, ber, _) = net.Verify(net.MarkedDat);
        Assert.Equal(ExitCodes.Present, code);
        Assert.Equal(0.0, ber);
    }

    [Fact]
    public void ReorderingTheHostsFiltersThroughTheBatchNormKeepsTheFunctionAndTheMark()
    {
        var path = Attack("outputs", "--norm", "bn2", "--permute", "--next", "conv3.weight:1", "--seed", "4");
        AssertSameFunction(path);
        var (code, ber, _) = Report("outputs --permute", path);
        Assert.Equal(ExitCodes.Present, code);
        Assert.Equal(0.0, ber);
    }

    [Theory]
    [InlineData("0.5", 16, 23)]
    [InlineData("1", 32, 64)]
    public void FlippingTheHostsFiltersKeepsTheFunctionAndTurnsBits(string fraction, int flips, int wrongBits)
    {
        // Every filter of the host carries the mark (the embedding loss reaches each filter as 1/O of the filter
        // mean's gradient), so a bit follows the sign of Σ_o s_o·X·W[o]: flipping half the filters leaves a noisy
        // balance (23 of 64 bits wrong, BER 0.359, p 0.016: absent at α = 1e-6); flipping all of them turns the
        // mark upside down (BER 1), which plain verify, an upper-tail test, also calls absent.
        var path = Attack("outputs", "--norm", "bn2", "--flip", fraction, "--seed", "4");
        AssertSameFunction(path);
        var flipped = ModelFile.Open(path);
        var host = flipped.ReadFloat32(flipped.Find(TrainedModels.Host));
        var original = ModelFile.Open(net.MarkedDat);
        var before = original.ReadFloat32(original.Find(TrainedModels.Host));
        Assert.Equal(flips, host.Chunk(144).Zip(before.Chunk(144)).Count(p => p.First.SequenceEqual(p.Second.Select(v => -v))));

        var (code, ber, _) = Report($"outputs --flip {fraction}", path);
        Assert.Equal(ExitCodes.Absent, code);
        Assert.Equal(wrongBits / 64.0, ber);
    }

    [Fact]
    public void ScalingTheHostsFiltersThroughTheBatchNormKeepsTheFunctionAndTheMark()
    {
        // Positive factors in [1/20, 20] reweight the filters in the filter mean, w' = mean_o a_o·W[o]; since each
        // filter carries the mark on its own, no bit turns (BER 0): the filter mean is robust to this one.
        var path = Attack("outputs", "--norm", "bn2", "--scale", "20", "--seed", "4");
        AssertSameFunction(path);
        var attacked = ModelFile.Open(path);
        var original = ModelFile.Open(net.MarkedDat);
        var ratio = attacked.ReadFloat32(attacked.Find("bn2.running_mean")).Zip(original.ReadFloat32(original.Find("bn2.running_mean")), (a, b) => a / b).ToArray();
        Assert.True(ratio.Max() / ratio.Min() > 20, "the running means were not rescaled");
        var (code, ber, _) = Report("outputs --scale 20", path);
        Assert.Equal(ExitCodes.Present, code);
        Assert.Equal(0.0, ber);
    }

    [Fact]
    public void AllOutputTransformsAtOnceKeepTheFunction()
    {
        // With factors as wide as [1/20, 20] the largest scaled filters decide the signs; for this seed most of
        // their weight is unflipped, so the mark still reads (BER 0): flips erase it only where they balance.
        var path = Attack("outputs", "--norm", "bn2", "--permute", "--next", "conv3.weight:1", "--scale", "20", "--flip", "0.5", "--seed", "9");
        AssertSameFunction(path);
        var (code, ber, _) = Report("outputs --permute --scale 20 --flip 0.5", path);
        Assert.Equal(ExitCodes.Present, code);
        Assert.Equal(0.0, ber);
    }

    [Theory]
    [InlineData("clique", 2, 18)]
    [InlineData("clique", 5, 21)]
    [InlineData("split", 3, 19)]
    public void DummyChannelsKeepTheFunctionAndTheKeyNoLongerApplies(string verb, int count, int width)
    {
        var path = Attack(verb, "--producer", "conv1", "--norm", "bn1", "--count", count.ToString(System.Globalization.CultureInfo.InvariantCulture), "--seed", "6");
        var attacked = ModelFile.Open(path);
        Assert.Equal([32L, width, 3, 3], attacked.Find(TrainedModels.Host).Shape.ToArray());
        Assert.Equal([(long)width, 3, 3, 3], attacked.Find("conv1.weight").Shape.ToArray());
        Assert.Equal([(long)width], attacked.Find("bn1.running_var").Shape.ToArray());
        AssertSameFunction(path, width);

        // Every other tensor is the same, byte for byte.
        var original = ModelFile.Open(net.MarkedDat);
        foreach (var entry in original.Tensors.Where(t => !t.Name.StartsWith("conv1.", StringComparison.Ordinal) && !t.Name.StartsWith("bn1.", StringComparison.Ordinal) && t.Name != TrainedModels.Host))
        {
            Assert.Equal(original.ReadBytes(entry), attacked.ReadBytes(attacked.Find(entry.Name)));
        }

        // The key was made for M = 16·9 = 144; the host now has M = width·9, so plain verify cannot apply it.
        var verify = CliRunner.Run("verify", "--model", path, "--key", net.OwnerKey);
        log.WriteLine($"{verb} --count {count}: verify exit {verify.Code}: {verify.Err.Trim()}");
        Assert.Equal(ExitCodes.Unusable, verify.Code);
        Assert.Contains("shape", verify.Err, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void ACliqueOnSafetensorsKeepsTheFunctionAndOnnxIsRefused()
    {
        var path = net.PathOf($"clique-{Guid.NewGuid():N}.safetensors");
        var run = CliRunner.Run("attack", "clique", "--model", net.MarkedSafetensors, "--param", TrainedModels.Host, "--producer", "conv1.weight", "--norm", "bn1", "--seed", "2", "--out", path);
        Assert.True(run.Code == 0, run.ToString());
        Assert.Equal(ModelFormat.Safetensors, ModelFile.Open(path).Format);
        var dat = net.PathOf($"clique-{Guid.NewGuid():N}.dat");
        Assert.Equal(0, CliRunner.Run("convert", "--model", path, "--out", dat).Code);
        AssertSameFunction(dat, 18);

        var onnx = net.PathOf($"block-{Guid.NewGuid():N}.onnx");
        Assert.Equal(0, CliRunner.Run("convert", "--model", net.MarkedDat, "--out", onnx).Code);
        var refused = CliRunner.Run("attack", "split", "--model", onnx, "--param", TrainedModels.Host, "--producer", "conv1", "--out", net.PathOf("never.onnx"));
        Assert.Equal(ExitCodes.Unusable, refused.Code);
        Assert.Contains("Convert it to .safetensors or .dat first", refused.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryTransformInSequenceKeepsTheFunction()
    {
        // Inputs: permuted and rescaled through bn1; outputs: scaled, flipped and permuted through bn2 and conv3;
        // then a clique and a split widen the host from 16 to 16 + 2 + 2 = 20 input channels.
        var permuted = Attack("permute", ["--axis", "1", "--also", "conv1.weight:0", "--also", "conv1.bias:0", .. Bn1, "--seed", "1"]);
        var rescaled = AttackOn(permuted, "rescale", "--divide", "bn1.weight:0", "--divide", "bn1.bias:0", "--range", "20", "--seed", "2");
        var outputs = AttackOn(rescaled, "outputs", "--norm", "bn2", "--permute", "--next", "conv3.weight:1", "--scale", "20", "--flip", "0.5", "--seed", "3");
        var clique = AttackOn(outputs, "clique", "--producer", "conv1", "--norm", "bn1", "--count", "2", "--seed", "4");
        var split = AttackOn(clique, "split", "--producer", "conv1", "--norm", "bn1", "--count", "2", "--seed", "5");
        AssertSameFunction(permuted);
        AssertSameFunction(rescaled);
        AssertSameFunction(outputs);
        AssertSameFunction(clique, 18);
        AssertSameFunction(split, 20);
        // Measured: permuting the inputs alone reads 32 of 64 bits wrong (BER 0.5), adding the rescale 29 (0.453),
        // the output transforms 28 (0.438), all absent; after the clique the key no longer applies (exit 2).
        Assert.Equal((ExitCodes.Absent, 0.5), Short(Report("permute-in", permuted)));
        Assert.Equal((ExitCodes.Absent, 29 / 64.0), Short(Report("permute-in + rescale-in", rescaled)));
        Assert.Equal((ExitCodes.Absent, 28 / 64.0), Short(Report("… + outputs", outputs)));
        Assert.Equal(ExitCodes.Unusable, net.Verify(clique).Code);
        Assert.Equal(ExitCodes.Unusable, net.Verify(split).Code);
    }

    [Fact]
    public void OutputsNeedsSomethingToDoAndPermuteNeedsTheNextLayer()
    {
        var nothing = CliRunner.Run("attack", "outputs", "--model", net.MarkedDat, "--param", TrainedModels.Host, "--norm", "bn2", "--out", net.PathOf("never.dat"));
        Assert.Equal(ExitCodes.Unusable, nothing.Code);
        Assert.Contains("outputs needs --scale R", nothing.Err, StringComparison.Ordinal);
        var alone = CliRunner.Run("attack", "outputs", "--model", net.MarkedDat, "--param", TrainedModels.Host, "--norm", "bn2", "--permute", "--out", net.PathOf("never.dat"));
        Assert.Contains("--permute needs at least one --next", alone.Err, StringComparison.Ordinal);
        var wrongNorm = CliRunner.Run("attack", "outputs", "--model", net.MarkedDat, "--param", TrainedModels.Host, "--norm", "bn1", "--flip", "0.5", "--out", net.PathOf("never.dat"));
        Assert.Equal(ExitCodes.Unusable, wrongNorm.Code);
        Assert.Contains("'bn1.weight' of shape [16] has no axis 0 of 32 channels", wrongNorm.Err, StringComparison.Ordinal);
        var tooMany = CliRunner.Run("attack", "split", "--model", net.MarkedDat, "--param", TrainedModels.Host, "--producer", "conv1", "--count", "17", "--out", net.PathOf("never.dat"));
        Assert.Contains("split at most 16", tooMany.Err, StringComparison.Ordinal);
        var lonely = CliRunner.Run("attack", "clique", "--model", net.MarkedDat, "--param", TrainedModels.Host, "--producer", "conv1", "--count", "1", "--out", net.PathOf("never.dat"));
        Assert.Contains("--count must be a whole number ≥ 2", lonely.Err, StringComparison.Ordinal);
        Assert.False(System.IO.File.Exists(net.PathOf("never.dat")));
    }

    private static (int Code, double Ber) Short((int Code, double Ber, double PValue) result) => (result.Code, result.Ber);

    private string Attack(string verb, params string[] options) => AttackOn(net.MarkedDat, verb, options);

    private string AttackOn(string source, string verb, params string[] options)
    {
        var path = net.PathOf($"{verb}-{Guid.NewGuid():N}.dat");
        var run = CliRunner.Run(["attack", verb, "--model", source, "--param", TrainedModels.Host, .. options, "--out", path]);
        Assert.True(run.Code == 0, run.ToString());
        log.WriteLine(run.Out.Trim());
        return path;
    }

    private void AssertSameFunction(string path, int width = 16)
    {
        var (difference, same) = net.Compare(net.MarkedDat, path, width);
        log.WriteLine($"  logits differ by {difference:0.##e0} of the largest; same classes: {same}");
        Assert.True(difference < Rounding, $"the attacked network computes another function: logits differ by {difference:0.##e0} of their largest");
        Assert.True(same);
    }

    private (int Code, double Ber, double PValue) Report(string attack, string path)
    {
        var result = net.Verify(path);
        log.WriteLine($"  {attack}: verify exit {result.Code}, BER {result.Ber:0.###}, p {result.PValue:0.##e0}");
        return result;
    }
}
