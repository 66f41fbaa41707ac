using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Threading;

namespace Watermark;

/// <summary>
/// The secret for one slot: which parameter carries the mark, its shape, T, the key kind, λ, the
/// message and the 256-bit seed from which X and the whitening mask are derived.
/// </summary>
public sealed class WatermarkKey
{
    /// <summary>λ of the paper's experiments (the reference code's <c>scale</c>).</summary>
    public const double DefaultStrength = 0.01;

    private float[]? projection;
    private bool[]? targetBits;
    private bool[]? mask;

    private WatermarkKey(string parameter, ImmutableArray<long> shape, int bits, KeyKind kind, double strength, Message message, Whitening whitening, SecretSeed seed)
    {
        Parameter = parameter;
        Shape = shape;
        FilterMeanLength = Capacity.FilterMeanLength(shape);
        Bits = bits;
        Kind = kind;
        Strength = strength;
        Message = message;
        Whitening = whitening;
        Seed = seed;
    }

    /// <summary>The state_dict name of the host weight, e.g. <c>g2.block0.conv2.weight</c>.</summary>
    public string Parameter { get; }

    /// <summary>The host weight's shape, e.g. [L, D, S, S] for a Conv2d.</summary>
    public ImmutableArray<long> Shape { get; }

    /// <summary>M: the length of the filter-mean vector w.</summary>
    public int FilterMeanLength { get; }

    /// <summary>T: the number of embedded bits.</summary>
    public int Bits { get; }

    /// <summary>How X is built.</summary>
    public KeyKind Kind { get; }

    /// <summary>λ: the weight of this slot's embedding loss in the training objective.</summary>
    public double Strength { get; }

    /// <summary>The owner's message.</summary>
    public Message Message { get; }

    /// <summary>Whether the message is XOR-ed with a key-derived mask.</summary>
    public Whitening Whitening { get; }

    internal SecretSeed Seed { get; }

    /// <summary>
    /// Makes a new key with a fresh seed from the CSPRNG. The message defaults to all ones, which is
    /// embedded without whitening (the paper); any other message is whitened unless told otherwise.
    /// Throws when T ≥ M unless <paramref name="allowOverCapacity"/> is set (only for experiments on the limit).
    /// </summary>
    public static WatermarkKey Create(
        string parameter,
        IReadOnlyList<long> shape,
        int bits,
        KeyKind kind = KeyKind.Random,
        Message? message = null,
        double strength = DefaultStrength,
        Whitening? whitening = null,
        bool allowOverCapacity = false) =>
        Create(parameter, shape, bits, kind, message, strength, whitening, allowOverCapacity, SecretSeed.Generate());

    /// <summary>As <see cref="Create(string, IReadOnlyList{long}, int, KeyKind, Message?, double, Whitening?, bool)"/> with a given seed (tests, hardware-held secrets).</summary>
    public static WatermarkKey Create(
        string parameter,
        IReadOnlyList<long> shape,
        int bits,
        KeyKind kind,
        Message? message,
        double strength,
        Whitening? whitening,
        bool allowOverCapacity,
        SecretSeed seed)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(parameter);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(seed);
        message ??= Message.AllOnes;
        var m = Capacity.FilterMeanLength(shape);
        if (bits <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(bits), bits, $"Slot '{parameter}': the number of bits T must be positive.");
        }

        if (bits > Keyring.MaxBits || (long)bits * m > Keyring.MaxKeyEntries)
        {
            throw new ArgumentOutOfRangeException(nameof(bits), bits, $"Slot '{parameter}': T = {bits} with M = {m} makes a key of {(long)bits * m} entries; at most {Keyring.MaxBits} bits and {Keyring.MaxKeyEntries} entries are supported.");
        }

        if (!Capacity.Fits(bits, m) && !allowOverCapacity)
        {
            throw new ArgumentException(Capacity.Describe(parameter, bits, m) + ".", nameof(bits));
        }

        if (kind == KeyKind.Diff && m < 2)
        {
            throw new ArgumentException($"Slot '{parameter}': a diff key needs M ≥ 2; this weight has M = {m}.", nameof(kind));
        }

        if (!double.IsFinite(strength) || strength <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(strength), strength, $"Slot '{parameter}': the strength λ must be a positive number (the paper uses 0.01).");
        }

        if (!message.FitsIn(bits))
        {
            throw new ArgumentException($"Slot '{parameter}': the message has {message.BitLength} bits but the slot carries only {bits}; shorten the message or use more bits.", nameof(message));
        }

        var resolved = whitening ?? (message.Encoding == MessageEncoding.AllOnes ? Whitening.None : Whitening.KeyedMask);
        return new WatermarkKey(parameter, [.. shape], bits, kind, strength, message, resolved, seed);
    }

    /// <summary>
    /// X as T×M row-major float32, derived once and cached. This is the secret: never log or save it.
    /// </summary>
    public ReadOnlyMemory<float> ProjectionMatrix() => ProjectionArray;

    internal float[] ProjectionArray =>
        LazyInitializer.EnsureInitialized(ref projection, () => KeyMatrix.Derive(Kind, Seed, Bits, FilterMeanLength));

    /// <summary>The embedded bits b: the message bits, XOR-ed with the key's mask when whitened.</summary>
    public ReadOnlySpan<bool> TargetBits() =>
        LazyInitializer.EnsureInitialized(ref targetBits, () =>
        {
            var bits = Message.ToBits(Bits);
            ApplyMask(bits);
            return bits;
        });

    /// <summary>Turns extracted bits back into message bits (undoes the whitening).</summary>
    public bool[] ToMessageBits(ReadOnlySpan<bool> extracted)
    {
        if (extracted.Length != Bits)
        {
            throw new ArgumentException($"Slot '{Parameter}' carries {Bits} bits; {extracted.Length} were given.", nameof(extracted));
        }

        var bits = extracted.ToArray();
        ApplyMask(bits);
        return bits;
    }

    private void ApplyMask(bool[] bits)
    {
        if (Whitening == Whitening.None)
        {
            return;
        }

        var keyMask = LazyInitializer.EnsureInitialized(ref mask, () =>
        {
            var stream = new KeyStream(Seed, KeyStream.Purpose.WhiteningMask);
            var result = new bool[Bits];
            uint word = 0;
            for (var j = 0; j < Bits; j++)
            {
                if (j % 32 == 0)
                {
                    word = stream.NextUInt32();
                }

                result[j] = ((word >> (j % 32)) & 1) == 1;
            }

            return result;
        });
        for (var j = 0; j < bits.Length; j++)
        {
            bits[j] ^= keyMask[j];
        }
    }

    /// <summary>Describes the slot without its secret.</summary>
    public override string ToString() =>
        $"{Parameter} {Capacity.ShapeText(Shape)}: T = {Bits}, M = {FilterMeanLength}, {Kind.ToString().ToLowerInvariant()} key, λ = {Strength}, message {Message}";
}
