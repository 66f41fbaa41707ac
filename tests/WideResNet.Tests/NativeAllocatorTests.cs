using System;
using System.Linq;
using System.Runtime.InteropServices;
using TorchSharp;
using WideResNet.Memory;
using Xunit;

namespace WideResNet.Tests;

[Collection(SequentialTorch.Name)]
public class NativeAllocatorTests
{
    [Fact]
    public void KeepFreedMemoryTakesEffectOnGlibcOnly()
    {
        var glibc = OperatingSystem.IsLinux() && !RuntimeInformation.RuntimeIdentifier.Contains("musl", StringComparison.Ordinal);
        Assert.Equal(glibc, NativeAllocator.KeepFreedMemory());
        Assert.Equal(glibc, NativeAllocator.KeepFreedMemory()); // once per process; asking again is harmless
    }

    [Fact]
    public void ReleaseFreeMemoryHandsKeptPagesBack()
    {
        if (!NativeAllocator.KeepFreedMemory())
        {
            Assert.False(NativeAllocator.ReleaseFreeMemory());
            return;
        }

        // 24 tensors of 8 MiB, below the 32 MiB mmap limit: glibc serves them from its heap and, told
        // to keep freed memory, keeps them after they are freed; the trim hands them back. (On a worker
        // thread's arena glibc may also unmap a wholly free heap by itself, so only the end state is
        // checked: at least half of the 192 MiB has left after the trim; other tests run beside this one.)
        var tensors = Enumerable.Range(0, 24).Select(_ => torch.ones(2 * 1024 * 1024)).ToList();
        var held = ProcessMemory.ResidentMegabytes();
        tensors.ForEach(t => t.Dispose());
        Assert.True(NativeAllocator.ReleaseFreeMemory());
        var released = ProcessMemory.ResidentMegabytes();
        Assert.True(released < held - 96, $"after freeing 192 MiB and the trim, {released:F0} of {held:F0} MiB are still resident");
    }

    [Fact]
    public void PeakResidentMemoryCoversWhatWasHeldSinceTheReset()
    {
        if (!ProcessMemory.ResetPeak())
        {
            Assert.Equal(0, ProcessMemory.PeakResidentMegabytes());
            return;
        }

        var before = ProcessMemory.PeakResidentMegabytes();
        using (var big = torch.ones(64 * 1024 * 1024)) // 256 MiB, touched
        {
            Assert.True(ProcessMemory.PeakResidentMegabytes() > before + 200);
        }

        Assert.True(ProcessMemory.PeakResidentMegabytes() >= ProcessMemory.ResidentMegabytes() - 1);
    }
}
