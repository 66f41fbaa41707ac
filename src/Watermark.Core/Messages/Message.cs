using System;
using System.Text;

namespace Watermark;

/// <summary>How a <see cref="Message"/> was given; part of the key file.</summary>
public enum MessageEncoding
{
    /// <summary>UTF-8 text (normalised to Unicode form C first).</summary>
    Text,

    /// <summary>Raw bytes (hex in the key file).</summary>
    Bytes,

    /// <summary>b = all ones, as in the paper's reference code.</summary>
    AllOnes,
}

/// <summary>
/// The owner's message b. Rules (key-file version 1): text is normalised to NFC and encoded as UTF-8;
/// bytes become bits most-significant bit first; a message shorter than T bits is repeated
/// cyclically to fill T (the repetition lets <see cref="Recover"/> take a majority vote); a longer
/// one is refused.
/// </summary>
public sealed class Message : IEquatable<Message>
{
    private readonly byte[] bytes;

    private Message(MessageEncoding encoding, byte[] bytes, string? text)
    {
        Encoding = encoding;
        this.bytes = bytes;
        Text = text;
    }

    /// <summary>b = all ones: reproduces the paper. Pair it with no whitening to match the reference code.</summary>
    public static Message AllOnes { get; } = new(MessageEncoding.AllOnes, [], null);

    /// <summary>How the message was given.</summary>
    public MessageEncoding Encoding { get; }

    /// <summary>The text, for <see cref="MessageEncoding.Text"/>; otherwise null.</summary>
    public string? Text { get; }

    /// <summary>The message's bytes (empty for all-ones).</summary>
    public ReadOnlySpan<byte> Bytes => bytes;

    /// <summary>A text message, e.g. an owner id. Must not be empty.</summary>
    public static Message FromText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0)
        {
            throw new ArgumentException("A message must not be empty; use Message.AllOnes for the paper's all-ones message.", nameof(text));
        }

        var normalized = text.Normalize(NormalizationForm.FormC);
        return new Message(MessageEncoding.Text, System.Text.Encoding.UTF8.GetBytes(normalized), normalized);
    }

    /// <summary>Text exactly as a key file stores it (already normalised when the key was made).</summary>
    internal static Message FromStoredText(string text) =>
        new(MessageEncoding.Text, System.Text.Encoding.UTF8.GetBytes(text), text);

    /// <summary>A byte message, e.g. a hash of the owner's certificate. Must not be empty.</summary>
    public static Message FromBytes(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
        {
            throw new ArgumentException("A message must not be empty; use Message.AllOnes for the paper's all-ones message.", nameof(value));
        }

        return new Message(MessageEncoding.Bytes, value.ToArray(), null);
    }

    /// <summary>How many bits the message itself has (0 for all-ones, which fills any T).</summary>
    public int BitLength => bytes.Length * 8;

    /// <summary>Whether the message fits into <paramref name="bits"/> bits.</summary>
    public bool FitsIn(int bits) => BitLength <= bits;

    /// <summary>The T message bits (before whitening), following the rules above.</summary>
    public bool[] ToBits(int bits)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bits);
        var result = new bool[bits];
        if (Encoding == MessageEncoding.AllOnes)
        {
            Array.Fill(result, true);
            return result;
        }

        if (!FitsIn(bits))
        {
            throw new ArgumentException($"The message has {BitLength} bits ({bytes.Length} bytes) but the slot carries only {bits}; shorten the message or use more bits.", nameof(bits));
        }

        for (var j = 0; j < bits; j++)
        {
            var bit = j % BitLength;
            result[j] = ((bytes[bit / 8] >> (7 - (bit % 8))) & 1) == 1;
        }

        return result;
    }

    /// <summary>
    /// Reads a message of <paramref name="byteLength"/> bytes back from T extracted (un-whitened) bits
    /// by a majority vote over its cyclic repetitions; ties read as 1.
    /// </summary>
    public static byte[] Recover(ReadOnlySpan<bool> bits, int byteLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(byteLength);
        var length = byteLength * 8;
        if (length > bits.Length)
        {
            throw new ArgumentException($"{bits.Length} bits cannot hold a {byteLength}-byte message.", nameof(byteLength));
        }

        var votes = new int[length];
        for (var j = 0; j < bits.Length; j++)
        {
            votes[j % length] += bits[j] ? 1 : -1;
        }

        var result = new byte[byteLength];
        for (var i = 0; i < length; i++)
        {
            if (votes[i] >= 0)
            {
                result[i / 8] |= (byte)(1 << (7 - (i % 8)));
            }
        }

        return result;
    }

    /// <inheritdoc/>
    public bool Equals(Message? other) =>
        other is not null && other.Encoding == Encoding && bytes.AsSpan().SequenceEqual(other.bytes);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as Message);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Encoding, bytes.Length);

    /// <inheritdoc/>
    public override string ToString() => Encoding switch
    {
        MessageEncoding.AllOnes => "all ones",
        MessageEncoding.Text => $"text \"{Text}\"",
        _ => $"{bytes.Length} bytes",
    };
}
