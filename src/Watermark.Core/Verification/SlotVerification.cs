using System;
using System.Collections.Immutable;

namespace Watermark;

/// <summary>What one slot's weights say about its key: extracted bits, BER, matched k of T and the p-value.</summary>
public sealed class SlotVerification
{
    internal SlotVerification(WatermarkKey key, bool[] extracted, double[] projection, int matched)
    {
        Parameter = key.Parameter;
        Bits = key.Bits;
        Matched = matched;
        ExtractedBits = [.. extracted];
        Projection = [.. projection];
        MessageBits = [.. key.ToMessageBits(extracted)];
        PValue = PValue.BinomialUpperTail(Bits, matched);
        Payload = key.ReadPayload(MessageBits.AsSpan());
    }

    /// <summary>The host parameter.</summary>
    public string Parameter { get; }

    /// <summary>T.</summary>
    public int Bits { get; }

    /// <summary>k: how many extracted bits equal the embedded ones.</summary>
    public int Matched { get; }

    /// <summary>Bit error rate (T − k) / T.</summary>
    public double BitErrorRate => (double)(Bits - Matched) / Bits;

    /// <summary>P[Binomial(T, ½) ≥ k]: the chance of a match this good without the mark.</summary>
    public PValue PValue { get; }

    /// <summary>b̂: the bits read from the weights (whitened, as embedded).</summary>
    public ImmutableArray<bool> ExtractedBits { get; }

    /// <summary>The extracted bits with the whitening undone: the message as the weights carry it.</summary>
    public ImmutableArray<bool> MessageBits { get; }

    /// <summary>
    /// The owner's message read back from <see cref="MessageBits"/> (decoded by the key's code, if any);
    /// null for the all-ones message. The verdict never depends on it: it is computed on the raw bits.
    /// </summary>
    public PayloadReadback? Payload { get; }

    /// <summary>Xw, before the sigmoid; σ(Xw) is what the paper's histograms (Fig. 2, 6) show.</summary>
    public ImmutableArray<double> Projection { get; }

    /// <summary>The slot in one line, e.g. <c>conv2.weight: 256/256 bits, BER 0.000, p = 8.64e-78</c>.</summary>
    public override string ToString() =>
        FormattableString.Invariant($"{Parameter}: {Matched}/{Bits} bits, BER {BitErrorRate:0.000}, p = {PValue}");
}
