using System;
using System.IO;
using Microsoft.Win32.SafeHandles;

namespace Watermark;

/// <summary>
/// Writes a file so that readers see either the old content or the complete new one, and so that no
/// partial copy — which may hold a key's seed or target bits — outlives a killed process.
/// </summary>
/// <remarks>
/// On Linux the data goes to an unnamed file in the target's folder (O_TMPFILE), which the kernel
/// frees if the process dies; only when it is complete and flushed does it get a name: the target's
/// own (when nothing may be replaced, so an existing file is never overwritten, even in a race) or a
/// temporary name that is at once renamed over the target. Elsewhere, or on file systems without
/// unnamed files, a named temporary <c>.NAME.&lt;guid&gt;.tmp</c> is used. A temporary left by a killed
/// writer (possible only in these fallbacks, or between link and rename) is deleted by the next write
/// to the same target: writers hold a lock on theirs, so only dead writers' files are taken.
/// The replaced file's permissions are kept; only regular files are ever replaced.
/// </remarks>
public static class AtomicFile
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode Default = OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;

    /// <summary>Writes <paramref name="path"/> atomically, replacing a regular file there; <paramref name="ownerOnly"/> makes it mode 0600 on Unix.</summary>
    public static void Write(string path, Action<Stream> write, bool ownerOnly = false) => Write(path, write, ownerOnly, replace: true);

    /// <summary>
    /// Writes <paramref name="path"/> atomically. With <paramref name="replace"/> false an existing file is
    /// never touched: the write ends in an <see cref="IOException"/> instead, decided atomically at the end.
    /// Folders, links, pipes and devices at <paramref name="path"/> are never replaced.
    /// </summary>
    public static void Write(string path, Action<Stream> write, bool ownerOnly, bool replace)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        var full = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{path}' has no folder.", nameof(path));
        var name = Path.GetFileName(full);
        if (name.Length == 0)
        {
            throw new ArgumentException($"'{path}' names a folder, not a file.", nameof(path));
        }

        Directory.CreateDirectory(folder);
        var existing = UnixFiles.KindOf(full, followLinks: false);
        if (existing == FileKind.Regular && !replace)
        {
            throw Exists(path);
        }

        if (existing is not (FileKind.Regular or FileKind.Missing))
        {
            throw new IOException($"'{path}' is {UnixFiles.Describe(existing)}, not a regular file; it is not replaced. Write to another path{(existing == FileKind.SymbolicLink ? " or to the link's target" : string.Empty)}.");
        }

        UnixFileMode? mode = ownerOnly ? OwnerOnly
            : existing == FileKind.Regular && !OperatingSystem.IsWindows() ? File.GetUnixFileMode(full)
            : null;
        RemoveStaleTemporaries(folder, name);
        using var unnamed = OperatingSystem.IsWindows() ? null : UnixFiles.TryCreateUnnamed(folder, mode ?? Default);
        if (unnamed is not null)
        {
            WriteUnnamed(unnamed, path, full, folder, name, write, mode, replace);
        }
        else
        {
            WriteNamed(path, full, folder, name, write, mode, replace);
        }

        UnixFiles.SyncFolder(folder);
    }

    private static void WriteUnnamed(SafeFileHandle handle, string path, string full, string folder, string name, Action<Stream> write, UnixFileMode? mode, bool replace)
    {
        if (mode is { } exact && !OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(handle, exact); // the umask narrowed it at creation
        }

        using var stream = new FileStream(handle, FileAccess.Write);
        write(stream);
        stream.Flush(flushToDisk: true);
        if (!replace)
        {
            if (!UnixFiles.TryLink(handle, full))
            {
                throw Exists(path);
            }

            return;
        }

        string temporary;
        do
        {
            temporary = TemporaryName(folder, name);
        }
        while (!UnixFiles.TryLink(handle, temporary));

        try
        {
            File.Move(temporary, full, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    private static void WriteNamed(string path, string full, string folder, string name, Action<Stream> write, UnixFileMode? mode, bool replace)
    {
        var temporary = TemporaryName(folder, name);
        // FileShare.None takes a lock (flock on Unix) for as long as the file is open: the mark of a live writer.
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (mode is { } exact && !OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = exact;
        }

        try
        {
            using (var stream = new FileStream(temporary, options))
            {
                _ = UnixFiles.TryLockExclusive(stream.SafeFileHandle); // also when .NET's own locking is turned off
                if (mode is { } kept && !OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(stream.SafeFileHandle, kept);
                }

                write(stream);
                stream.Flush(flushToDisk: true);
            }

            try
            {
                File.Move(temporary, full, overwrite: replace);
            }
            catch (IOException) when (!replace && File.Exists(full))
            {
                throw Exists(path);
            }
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    private static string TemporaryName(string folder, string name) => Path.Combine(folder, $".{name}.{Guid.NewGuid():N}.tmp");

    // Temporaries of this target whose writer is gone: a live writer holds a lock on its own.
    private static void RemoveStaleTemporaries(string folder, string name)
    {
        string[] candidates;
        try
        {
            candidates = Directory.GetFiles(folder, $".{name}.*.tmp", SearchOption.TopDirectoryOnly);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }

        foreach (var candidate in candidates)
        {
            if (!IsTemporaryName(Path.GetFileName(candidate), name) || UnixFiles.KindOf(candidate, followLinks: false) != FileKind.Regular)
            {
                continue;
            }

            try
            {
                using var held = new FileStream(candidate, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
                if (UnixFiles.TryLockExclusive(held.SafeFileHandle) != false)
                {
                    File.Delete(candidate);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // In use by a live writer, or not ours to delete.
            }
        }
    }

    internal static bool IsTemporaryName(string file, string name)
    {
        var prefix = $".{name}.";
        if (!file.StartsWith(prefix, StringComparison.Ordinal) || !file.EndsWith(".tmp", StringComparison.Ordinal) || file.Length != prefix.Length + 32 + 4)
        {
            return false;
        }

        foreach (var c in file.AsSpan(prefix.Length, 32))
        {
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    private static IOException Exists(string path) => new($"'{path}' already exists and is not replaced.");
}
