using System;
using System.Runtime.InteropServices;
using Watermark.Training;
using Xunit;

namespace Watermark.Tests;

public class NativeAllocatorTests
{
    [Fact]
    public void KeepFreedMemoryTakesEffectOnGlibcOnly()
    {
        var glibc = OperatingSystem.IsLinux() && !RuntimeInformation.RuntimeIdentifier.Contains("musl", StringComparison.Ordinal);
        Assert.Equal(glibc, NativeAllocator.KeepFreedMemory());
        Assert.Equal(glibc, NativeAllocator.KeepFreedMemory()); // once per process; asking again is harmless
    }
}
