using System;
using System.Runtime.InteropServices;

namespace WideResNet.Memory;

/// <summary>
/// The native allocator under libtorch. A training step frees and re-allocates the same large
/// activation buffers (16 MiB each for WRN-10-4 at batch 64). With glibc's defaults those are
/// mmap'ed and unmapped, or trimmed back to the OS, every step, and the kernel zeroes every page
/// again: about 23,000 page faults a step, ~10% of a WRN-10-4 step on 2 cores (bench/README.md).
/// <see cref="KeepFreedMemory"/> asks glibc to serve blocks up to 32 MiB from the heap and to keep
/// freed memory for reuse. Resident memory then stays at the run's peak instead of going up and
/// down each step; results do not change.
/// </summary>
public static class NativeAllocator
{
    private const int TrimThreshold = -1; // M_TRIM_THRESHOLD in glibc's malloc.h
    private const int MmapThreshold = -3; // M_MMAP_THRESHOLD; glibc caps it at 32 MiB on 64-bit
    private const int LargestHeapBlock = 32 * 1024 * 1024;

    private static int applied; // 0: not yet, 1: applied, 2: not available

    /// <summary>
    /// Tunes glibc's malloc for training loops (process-wide, once). Returns whether the settings are
    /// in effect: false on other platforms and C libraries (where nothing changes).
    /// The sample's trainers call it (SampleTraining.Trainer).
    /// </summary>
    public static bool KeepFreedMemory()
    {
        if (applied == 0)
        {
            var ok = false;
            if (OperatingSystem.IsLinux())
            {
                try
                {
                    // mallopt returns 1 on success; musl's stub returns 0.
                    ok = Mallopt(MmapThreshold, LargestHeapBlock) == 1 && Mallopt(TrimThreshold, int.MaxValue) == 1;
                }
                catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
                {
                    ok = false;
                }
            }

            applied = ok ? 1 : 2;
        }

        return applied == 1;
    }

    /// <summary>
    /// Hands the free pages glibc kept (see <see cref="KeepFreedMemory"/>) back to the kernel now
    /// (<c>malloc_trim(0)</c>). Between epochs nothing large is alive, so resident memory falls to what
    /// the model, optimiser and data really hold; the next epoch faults the pages it needs back in once.
    /// Returns false where <see cref="KeepFreedMemory"/> is not in effect (glibc then trims by itself).
    /// </summary>
    public static bool ReleaseFreeMemory()
    {
        if (applied != 1)
        {
            return false;
        }

        _ = MallocTrim(0); // 1 when pages went back, 0 when there were none to return: both fine
        return true;
    }

    [DllImport("libc", EntryPoint = "malloc_trim", ExactSpelling = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int MallocTrim(nuint pad);

    [DllImport("libc", EntryPoint = "mallopt", ExactSpelling = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Mallopt(int parameter, int value);
}
