using System;
using System.Security.Cryptography;

namespace Watermark;

/// <summary>
/// The 256-bit secret from which a slot's key matrix X and whitening mask are derived.
/// Its value never appears in <see cref="ToString"/>, exceptions or logs.
/// </summary>
public sealed class SecretSeed : IEquatable<SecretSeed>
{
    /// <summary>Length of a seed in bytes.</summary>
    public const int Length = 32;

    private readonly byte[] bytes;

    private SecretSeed(byte[] bytes) => this.bytes = bytes;

    /// <summary>Draws a fresh seed from the operating system's CSPRNG.</summary>
    public static SecretSeed Generate() => new(RandomNumberGenerator.GetBytes(Length));

    /// <summary>Wraps 32 given bytes, e.g. a seed kept in a hardware store. Prefer <see cref="Generate"/>.</summary>
    public static SecretSeed FromBytes(ReadOnlySpan<byte> value)
    {
        if (value.Length != Length)
        {
            throw new ArgumentException($"A secret seed is {Length} bytes (256 bits); {value.Length} were given.", nameof(value));
        }

        return new SecretSeed(value.ToArray());
    }

    /// <summary>Parses the 64 hex digits of a key file. Returns false (and never echoes the input) when malformed.</summary>
    internal static bool TryParseHex(string text, out SecretSeed? seed)
    {
        seed = null;
        if (text.Length != 2 * Length)
        {
            return false;
        }

        try
        {
            seed = new SecretSeed(Convert.FromHexString(text));
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>The 64 lower-case hex digits written to a key file. Internal: only the key file sees them.</summary>
    internal string ToHex() => Convert.ToHexStringLower(bytes);

    internal ReadOnlySpan<byte> Bytes => bytes;

    /// <inheritdoc/>
    public bool Equals(SecretSeed? other) => other is not null && CryptographicOperations.FixedTimeEquals(bytes, other.bytes);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as SecretSeed);

    /// <inheritdoc/>
    public override int GetHashCode() => BitConverter.ToInt32(SHA256.HashData(bytes), 0);

    /// <summary>Never the secret itself.</summary>
    public override string ToString() => "SecretSeed(256 bits, redacted)";
}
