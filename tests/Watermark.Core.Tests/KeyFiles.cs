using System;
using System.IO;

namespace Watermark.Tests;

/// <summary>Writes test key files as a careful owner would: readable by the owner only, which Keyring.Load requires.</summary>
internal static class KeyFiles
{
    public static void WriteOwnerOnly(string path, byte[] content)
    {
        File.WriteAllBytes(path, content);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }
}
