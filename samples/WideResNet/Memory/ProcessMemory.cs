using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;

namespace WideResNet.Memory;

/// <summary>The process's resident memory: now, and the highest since the last <see cref="ResetPeak"/>.</summary>
internal static class ProcessMemory
{
    private const double MiB = 1024.0 * 1024.0;

    /// <summary>Resident set size in MiB, libtorch's native allocations included.</summary>
    public static double ResidentMegabytes()
    {
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64 / MiB;
    }

    /// <summary>Memory the .NET garbage collector had committed after its last collection, in MiB.</summary>
    public static double ManagedMegabytes() => GC.GetGCMemoryInfo().TotalCommittedBytes / MiB;

    /// <summary>Starts a new peak (Linux: writes 5 to /proc/self/clear_refs, which resets VmHWM); false elsewhere.</summary>
    public static bool ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return false;
        }
    }

    /// <summary>The highest resident set size since <see cref="ResetPeak"/> (VmHWM), in MiB; 0 where Linux's /proc is not there.</summary>
    public static double PeakResidentMegabytes()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    var kilobytes = line["VmHWM:".Length..].Trim().Split(' ')[0];
                    return double.Parse(kilobytes, CultureInfo.InvariantCulture) / 1024.0;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            // Not Linux, or /proc not mounted: no peak to report.
        }

        return 0;
    }
}
