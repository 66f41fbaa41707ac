using System;
using System.IO;

namespace Watermark;

/// <summary>
/// Opens the files that come from outside — models, key files, checkpoints — as regular files only
/// (after symbolic links are resolved), so a pipe never blocks and a device is never read without
/// end, and reads them no further than what they really hold, never trusting a size from a stat.
/// </summary>
internal static class InputFile
{
    /// <summary>
    /// Opens <paramref name="path"/> for reading. Problems go through <paramref name="error"/>, which turns
    /// a sentence such as "is a folder; …" into the caller's exception; <paramref name="missing"/> is the
    /// sentence for a path where nothing exists.
    /// </summary>
    public static FileStream Open(string path, Func<string, Exception> error, string missing)
    {
        ArgumentNullException.ThrowIfNull(error);
        FileStream? stream = null;
        try
        {
            Check(UnixFiles.KindOf(path, followLinks: true), error, missing);
            stream = Open(path);
            // The path may have changed between the look and the open: judge what was opened.
            Check(UnixFiles.KindOf(stream.SafeFileHandle), error, missing);
            return stream;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stream?.Dispose();
            throw error($"cannot be read: {e.Message}");
        }
        catch
        {
            stream?.Dispose();
            throw;
        }
    }

    // Without .NET's advisory lock where open(2) can be called directly (UnixFiles.TryOpenForReading says why).
    private static FileStream Open(string path)
    {
        var handle = UnixFiles.TryOpenForReading(path);
        if (handle is null)
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 4096, FileOptions.RandomAccess);
        }

        try
        {
            return new FileStream(handle, FileAccess.Read, bufferSize: 4096);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Reads what is left of <paramref name="stream"/> if it holds at most <paramref name="limit"/> bytes; null if it holds more.</summary>
    public static byte[]? ReadAll(Stream stream, int limit)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var buffer = new byte[Math.Min(limit + 1L, stream.CanSeek ? Math.Max(0, stream.Length - stream.Position) + 1 : 81920)];
        var filled = 0;
        while (true)
        {
            if (filled == buffer.Length)
            {
                if (filled > limit)
                {
                    return null;
                }

                Array.Resize(ref buffer, (int)Math.Min(limit + 1L, buffer.Length * 2L));
            }

            var read = stream.Read(buffer, filled, buffer.Length - filled);
            if (read == 0)
            {
                return filled > limit ? null : buffer[..filled];
            }

            filled += read;
        }
    }

    private static void Check(FileKind kind, Func<string, Exception> error, string missing)
    {
        switch (kind)
        {
            case FileKind.Regular:
                return;
            case FileKind.Missing:
                throw error(missing);
            case FileKind.Directory:
                throw error("is a folder; give the file itself.");
            default:
                throw error($"is {UnixFiles.Describe(kind)}, not a regular file; only regular files are read (copy the content into a file first).");
        }
    }
}
