using Watermark;

namespace WideResNet.Experiments;

/// <summary>The runs several experiments share: the same spec, hence the same cached run, wherever it is asked for.</summary>
internal static class Runs
{
    /// <summary>The unmarked CIFAR-10 run of <paramref name="seed"/> (Table 4's "not embedded").</summary>
    public static RunSpec None(ulong seed) => new($"cifar-none-s{seed}", seed, "cifar10", Embed: false);

    /// <summary>Train-to-embed on CIFAR-10: <paramref name="bits"/> bits of a <paramref name="kind"/> key in conv<paramref name="group"/> (default: the paper's 256 random bits in conv2).</summary>
    public static RunSpec Marked(ulong seed, KeyKind kind = KeyKind.Random, int group = 2, int bits = 256) =>
        new($"cifar-{kind.ToString().ToLowerInvariant()}{(group == 2 && bits == 256 ? string.Empty : $"-g{group}-t{bits}")}-s{seed}", seed, "cifar10", Embed: true, kind, group, bits);

    /// <summary>Table 8's attack: fine-tuning the marked run on CIFAR-10 without the regularizer, lr reset to 0.1.</summary>
    public static RunSpec FineTuneAttack(ulong seed, RunSpec marked) =>
        new($"{marked.Name}-ft-attack", seed + 20, "cifar10", Embed: false, StartFrom: marked.Name, KeySeed: seed);

    /// <summary>A short unmarked CIFAR-10 run: <paramref name="epochs"/> epochs over the first <paramref name="images"/> training images, tested on the first 2,000 test images (a null model: trained on the task, never saw a key).</summary>
    public static RunSpec ShortNone(ulong seed, int epochs, int images) => new($"cifar-none-s{seed}-e{epochs}-n{images}", seed, "cifar10", Embed: false, Epochs: epochs, TrainImages: images, TestImages: 2000);

    /// <summary>A short CIFAR-10 run like <see cref="ShortNone"/>, marked with its own seed's 256-bit random key in conv2.</summary>
    public static RunSpec ShortMarked(ulong seed, int epochs, int images) => new($"cifar-random-s{seed}-e{epochs}-n{images}", seed, "cifar10", Embed: true, Epochs: epochs, TrainImages: images, TestImages: 2000);

    /// <summary>He et al.'s CIFAR ResNet-20 trained on CIFAR-10 with the preset's schedule, <paramref name="bits"/> random bits in <see cref="RunSpec.ResNet20Host"/>.</summary>
    public static RunSpec MarkedResNet20(ulong seed, int bits = 256) =>
        new($"cifar-resnet20-random-s{seed}", seed, "cifar10", Embed: true, Bits: bits, Network: RunSpec.ResNet20);
}
