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
    private float[]? projectionByColumn;
    private int projections;
    private bool[]? targetBits;
    private bool[]? mask;

    private WatermarkKey(string parameter, ImmutableArray<long> shape, int bits, KeyKind kind, double strength, Message message, Whitening whitening, SecretSeed seed, BchCode? code)
    {
        Code = code;
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

    /// <summary>
    /// The error-correcting code the message is embedded with, or null: then the message is repeated
    /// cyclically and read back by a majority vote. With a code, the codeword (message and parity) fills
    /// the T bits, repeated cyclically where it is shorter, and up to t wrong bits are corrected.
    /// </summary>
    public BchCode? Code { get; }

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
        bool allowOverCapacity = false,
        BchCode? code = null) =>
        Create(parameter, shape, bits, kind, message, strength, whitening, allowOverCapacity, SecretSeed.Generate(), code);

    /// <summary>
    /// As <see cref="Create(string, IReadOnlyList{long}, int, KeyKind, Message?, double, Whitening?, bool, BchCode?)"/>
    /// with a given seed (tests, hardware-held secrets). <paramref name="code"/> must carry exactly the
    /// message's bits (<see cref="BchCode.Choose"/> picks the strongest that fits T).
    /// </summary>
    public static WatermarkKey Create(
        string parameter,
        IReadOnlyList<long> shape,
        int bits,
        KeyKind kind,
        Message? message,
        double strength,
        Whitening? whitening,
        bool allowOverCapacity,
        SecretSeed seed,
        BchCode? code = null)
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

        if (code is not null)
        {
            if (message.Encoding == MessageEncoding.AllOnes)
            {
                throw new ArgumentException($"Slot '{parameter}': the all-ones message carries nothing to correct; give a text or byte message, or no code.", nameof(code));
            }

            if (code.MessageLength != message.BitLength)
            {
                throw new ArgumentException($"Slot '{parameter}': {code} carries {code.MessageLength} message bits but the message has {message.BitLength}; use BchCode.Choose({message.BitLength}, {bits}).", nameof(code));
            }

            if (code.Length > bits)
            {
                throw new ArgumentException($"Slot '{parameter}': {code} needs {code.Length} bits but the slot carries only {bits}; use more bits, a shorter message or a weaker code.", nameof(code));
            }
        }

        var resolved = whitening ?? (message.Encoding == MessageEncoding.AllOnes ? Whitening.None : Whitening.KeyedMask);
        return new WatermarkKey(parameter, [.. shape], bits, kind, strength, message, resolved, seed, code);
    }

    /// <summary>
    /// X as T×M row-major float32, derived once and cached. This is the secret: never log or save it.
    /// </summary>
    public ReadOnlyMemory<float> ProjectionMatrix() => ProjectionArray;

    internal float[] ProjectionArray =>
        LazyInitializer.EnsureInitialized(ref projection, () => KeyMatrix.Derive(Kind, Seed, Bits, FilterMeanLength));

    /// <summary>
    /// X transposed (M×T row-major), derived once and cached, so that Xw is computed a column at a time with all T
    /// sums in vectors (<see cref="Extractor.Score"/>). Secret like X.
    /// </summary>
    /// <summary>
    /// Whether Xw should be computed by column (<see cref="ProjectionByColumn"/>): from the second projection with this
    /// key on, so that a single verification does not pay for transposing X, while a scan over many files does once.
    /// </summary>
    internal bool ProjectsByColumn => Interlocked.Increment(ref projections) > 1;

    internal float[] ProjectionByColumn =>
        LazyInitializer.EnsureInitialized(ref projectionByColumn, () =>
        {
            var x = ProjectionArray;
            var m = FilterMeanLength;
            // In 32×32 tiles, so that neither the reads nor the writes stride through the whole matrix.
            const int Tile = 32;
            var transposed = new float[x.Length];
            for (var j0 = 0; j0 < Bits; j0 += Tile)
            {
                for (var i0 = 0; i0 < m; i0 += Tile)
                {
                    for (var j = j0; j < Math.Min(j0 + Tile, Bits); j++)
                    {
                        for (var i = i0; i < Math.Min(i0 + Tile, m); i++)
                        {
                            transposed[(i * Bits) + j] = x[(j * m) + i];
                        }
                    }
                }
            }

            return transposed;
        });

    /// <summary>The embedded bits b: the message bits (or its codeword), repeated to fill T, XOR-ed with the key's mask when whitened.</summary>
    public ReadOnlySpan<bool> TargetBits() =>
        LazyInitializer.EnsureInitialized(ref targetBits, () =>
        {
            var bits = PayloadBits();
            ApplyMask(bits);
            return bits;
        });

    /// <summary>
    /// Reads the message back from extracted bits with the whitening undone (<see cref="SlotVerification.MessageBits"/>):
    /// decoded by the code when the key has one, else by a majority vote over the repetitions. Null for all-ones.
    /// </summary>
    public PayloadReadback? ReadPayload(ReadOnlySpan<bool> messageBits)
    {
        if (messageBits.Length != Bits)
        {
            throw new ArgumentException($"Slot '{Parameter}' carries {Bits} bits; {messageBits.Length} were given.", nameof(messageBits));
        }

        if (Message.Encoding == MessageEncoding.AllOnes)
        {
            return null;
        }

        if (Code is null)
        {
            var recovered = Message.Recover(messageBits, Message.Bytes.Length);
            return new PayloadReadback(this, recovered, corrected: null);
        }

        // Each codeword position by a majority over its copies in T (a tie keeps the first copy).
        var n = Code.Length;
        var received = new bool[n];
        for (var i = 0; i < n; i++)
        {
            var votes = 0;
            for (var j = i; j < Bits; j += n)
            {
                votes += messageBits[j] ? 1 : -1;
            }

            received[i] = votes == 0 ? messageBits[i] : votes > 0;
        }

        var decoded = Code.Decode(received);
        return new PayloadReadback(this, decoded.Success ? ToBytes(decoded.Message!) : null, decoded.Success ? decoded.Corrected : null);
    }

    private bool[] PayloadBits()
    {
        if (Code is null)
        {
            return Message.ToBits(Bits);
        }

        var codeword = Code.Encode(Message.ToBits(Message.BitLength));
        var bits = new bool[Bits];
        for (var j = 0; j < Bits; j++)
        {
            bits[j] = codeword[j % codeword.Length];
        }

        return bits;
    }

    private static byte[] ToBytes(bool[] bits)
    {
        var bytes = new byte[bits.Length / 8];
        for (var i = 0; i < bytes.Length * 8; i++)
        {
            if (bits[i])
            {
                bytes[i / 8] |= (byte)(1 << (7 - (i % 8)));
            }
        }

        return bytes;
    }

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
        $"{Parameter} {Capacity.ShapeText(Shape)}: T = {Bits}, M = {FilterMeanLength}, {Kind.ToString().ToLowerInvariant()} key, λ = {Strength}, message {Message}{(Code is null ? string.Empty : $", {Code.Name} (corrects {Code.CorrectableErrors} bits)")}";
}
