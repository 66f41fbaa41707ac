using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using Microsoft.Win32.SafeHandles;

namespace Watermark;

/// <summary>
/// Serialises the writers of key files across threads and processes, so that a read–modify–write
/// (adding slots) never loses another writer's slots. On Linux it is an exclusive advisory lock (flock)
/// on the key file's folder, which leaves no file behind; elsewhere, a lock on an empty companion file
/// <c>.NAME.lock</c>. Either lock dies with its holder, so a killed process never blocks the next.
/// </summary>
public sealed class KeyFileLock : IDisposable
{
    /// <summary>How long <see cref="Acquire"/> waits by default for another writer to finish.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    private readonly IDisposable held;

    private KeyFileLock(IDisposable held) => this.held = held;

    /// <summary>
    /// Waits until no other writer holds the lock for <paramref name="keyPath"/> and takes it; throws a
    /// <see cref="KeyFileException"/> when another writer holds it for longer than <paramref name="timeout"/>.
    /// </summary>
    public static KeyFileLock Acquire(string keyPath, TimeSpan? timeout = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(keyPath);
        var full = Path.GetFullPath(keyPath);
        var folder = Path.GetDirectoryName(full)!;
        var limit = timeout ?? DefaultTimeout;
        var clock = Stopwatch.StartNew();
        Directory.CreateDirectory(folder);
        if (UnixFiles.TryOpenFolder(folder) is { } handle)
        {
            return new KeyFileLock(Wait(keyPath, folder, limit, clock, () => UnixFiles.TryLockExclusive(handle) == true ? handle : null, handle));
        }

        var lockPath = Path.Combine(folder, $".{Path.GetFileName(full)}.lock");
        return new KeyFileLock(Wait(keyPath, lockPath, limit, clock, () =>
        {
            try
            {
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (File.Exists(lockPath))
            {
                return null; // a sharing violation: another writer holds it
            }
        }, null));
    }

    /// <summary>Releases the lock.</summary>
    public void Dispose() => held.Dispose();

    private static IDisposable Wait(string keyPath, string lockName, TimeSpan limit, Stopwatch clock, Func<IDisposable?> take, SafeFileHandle? owned)
    {
        try
        {
            while (true)
            {
                if (take() is { } taken)
                {
                    return taken;
                }

                if (clock.Elapsed >= limit)
                {
                    throw new KeyFileException(keyPath, null, $"another process has been writing key files here for over {limit.TotalSeconds:0} s (it holds the lock on '{lockName}'); try again when it has finished.");
                }

                Thread.Sleep(20);
            }
        }
        catch
        {
            owned?.Dispose();
            throw;
        }
    }
}
