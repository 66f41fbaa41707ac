using System;
using System.Buffers.Binary;
using System.IO;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Watermark;

/// <summary>What a path names, as the operating system sees it.</summary>
internal enum FileKind
{
    /// <summary>Nothing exists at the path.</summary>
    Missing,

    /// <summary>A regular file: the only kind read as a model, key or checkpoint, or replaced by a write.</summary>
    Regular,

    /// <summary>A folder.</summary>
    Directory,

    /// <summary>A symbolic link (only seen when links are not followed).</summary>
    SymbolicLink,

    /// <summary>A named pipe (FIFO): opening it waits for a writer, reading it never ends.</summary>
    Pipe,

    /// <summary>A character device such as <c>/dev/zero</c> or <c>/dev/null</c>.</summary>
    CharacterDevice,

    /// <summary>A block device.</summary>
    BlockDevice,

    /// <summary>A Unix socket.</summary>
    Socket,
}

/// <summary>
/// The few system calls .NET has no managed form of, on Linux: the type of a file (statx), unnamed
/// temporary files that vanish with the process (O_TMPFILE, linkat), flock, and a folder's fsync.
/// Elsewhere each call reports "not available" and callers fall back to managed code. (Mono.Posix
/// would wrap these but ships a native helper library per platform; five libc calls with fixed
/// layouts — statx's is the same on every Linux architecture — keep the CLI one NativeAOT binary.)
/// </summary>
internal static partial class UnixFiles
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const int AtSymlinkFollow = 0x400;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxType = 0x1;
    private const int StatxSize = 256;
    private const int StatxModeOffset = 28;
    private const int OWriteOnly = 0x1;
    private const int OReadOnly = 0x0;
    private const int OCloseOnExec = 0x80000;
    private const int ONonBlocking = 0x800;
    private const int ODirectory = 0x10000;
    private const int OTemporaryFile = 0x400000 | ODirectory;
    private const int ENoEnt = 2;
    private const int ENotDir = 20;
    private const int EExist = 17;
    private const int ELoop = 40;
    private const int EWouldBlock = 11;
    private const int LockExclusive = 2;
    private const int LockNonBlocking = 4;

    /// <summary>Whether the Linux calls are used; false elsewhere.</summary>
    public static bool Available { get; } = OperatingSystem.IsLinux() && (RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64);

    /// <summary>What <paramref name="path"/> names; <paramref name="followLinks"/> resolves symbolic links first.</summary>
    public static FileKind KindOf(string path, bool followLinks)
    {
        if (Available)
        {
            var buffer = new byte[StatxSize];
            if (Statx(AtFdCwd, path, followLinks ? 0 : AtSymlinkNoFollow, StatxType, buffer) == 0)
            {
                return FromMode(BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(StatxModeOffset)));
            }

            var error = Marshal.GetLastPInvokeError();
            if (error is ENoEnt or ENotDir or ELoop)
            {
                return FileKind.Missing;
            }

            throw new IOException($"Cannot inspect '{path}': {Marshal.GetPInvokeErrorMessage(error)}.");
        }

        // Managed fallback: no pipes or devices to tell apart on the platforms it serves.
        var info = new FileInfo(path);
        if (!followLinks && info.LinkTarget is not null)
        {
            return FileKind.SymbolicLink;
        }

        return System.IO.Directory.Exists(path) ? FileKind.Directory : File.Exists(path) ? FileKind.Regular : FileKind.Missing;
    }

    /// <summary>What an open handle refers to (the file itself, however it was reached).</summary>
    public static FileKind KindOf(SafeFileHandle handle)
    {
        if (!Available)
        {
            return FileKind.Regular;
        }

        var buffer = new byte[StatxSize];
        if (WithDescriptor(handle, fd => Statx(fd, string.Empty, AtEmptyPath, StatxType, buffer)) != 0)
        {
            throw new IOException($"Cannot inspect an open file: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}.");
        }

        return FromMode(BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(StatxModeOffset)));
    }

    /// <summary>
    /// Opens a file for reading with open(2) itself; null where not available. Unlike a FileStream opened by path it
    /// takes no advisory lock (.NET's FileShare emulation flocks every file it opens): a reader needs none, as writers
    /// replace files whole (<see cref="AtomicFile"/>), and a writer's lock can outlive its close in a child process
    /// forked meanwhile (until the child's exec), which would make the read fail as "in use". O_NONBLOCK: a pipe put in
    /// the file's place after the caller looked at it cannot block the open (the caller checks what was opened).
    /// </summary>
    public static SafeFileHandle? TryOpenForReading(string path)
    {
        if (!Available)
        {
            return null;
        }

        var fd = Open(path, OReadOnly | OCloseOnExec | ONonBlocking, 0);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno == ENoEnt
                ? new FileNotFoundException($"Could not find file '{path}'.", path)
                : new IOException($"Cannot open '{path}': {Marshal.GetPInvokeErrorMessage(errno)}.");
        }

        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>
    /// Opens an unnamed file in <paramref name="folder"/> (O_TMPFILE) that the kernel frees if the process
    /// dies before <see cref="TryLink"/> gives it a name, and locks it (flock) so no one takes it for stale.
    /// Null when the platform or the file system cannot.
    /// </summary>
    public static SafeFileHandle? TryCreateUnnamed(string folder, UnixFileMode mode)
    {
        if (!Available)
        {
            return null;
        }

        var fd = Open(folder, OTemporaryFile | OWriteOnly | OCloseOnExec, (int)mode);
        if (fd < 0)
        {
            // EOPNOTSUPP, EISDIR (old kernels) and the like: the file system has no unnamed files.
            return null;
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        _ = Flock(fd, LockExclusive | LockNonBlocking);
        return handle;
    }

    /// <summary>Gives an unnamed file a name; false (nothing done) when <paramref name="path"/> exists.</summary>
    public static bool TryLink(SafeFileHandle handle, string path)
    {
        return Succeeded(WithDescriptor(handle, fd => LinkAt(AtFdCwd, $"/proc/self/fd/{fd}", AtFdCwd, path, AtSymlinkFollow)), EExist, $"Cannot create '{path}'");
    }

    /// <summary>
    /// Takes an exclusive advisory lock (flock) on an open file without waiting: true when taken, false
    /// when another open file holds it, null where not available (then FileShare.None is the lock).
    /// Called directly rather than through FileShare.None, which DOTNET_SYSTEM_IO_DISABLEFILELOCKING turns off.
    /// </summary>
    public static bool? TryLockExclusive(SafeFileHandle handle)
    {
        if (!Available)
        {
            return null;
        }

        return Succeeded(WithDescriptor(handle, fd => Flock(fd, LockExclusive | LockNonBlocking)), EWouldBlock, "Cannot lock a file");
    }

    /// <summary>Opens a folder to hold a lock on it (flock works on folders); null where not available or on failure.</summary>
    public static SafeFileHandle? TryOpenFolder(string folder)
    {
        if (!Available)
        {
            return null;
        }

        var fd = Open(folder, OReadOnly | ODirectory | OCloseOnExec, 0);
        return fd < 0 ? null : new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>
    /// Where an open file or folder really lies, every symbolic link resolved (the kernel's own record, read
    /// from /proc/self/fd, so a link swapped after the open cannot mislead it); null where not available.
    /// </summary>
    public static string? RealPathOf(SafeFileHandle handle)
    {
        if (!Available)
        {
            return null;
        }

        string? target = null;
        _ = WithDescriptor(handle, fd =>
        {
            try
            {
                target = new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // No /proc (a sandbox): the caller falls back to refusing links.
            }

            return 0;
        });
        return target is not null && target.StartsWith('/') ? target : null;
    }

    /// <summary>Flushes a folder's entries (a rename or link in it) to disk; a no-op where not available.</summary>
    public static void SyncFolder(string folder)
    {
        if (!Available)
        {
            return;
        }

        var fd = Open(folder, OReadOnly | ODirectory | OCloseOnExec, 0);
        if (fd < 0)
        {
            return;
        }

        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        _ = Fsync(fd);
    }

    /// <summary>How a kind of file is named in messages.</summary>
    public static string Describe(FileKind kind) => kind switch
    {
        FileKind.Missing => "missing",
        FileKind.Regular => "a regular file",
        FileKind.Directory => "a folder",
        FileKind.SymbolicLink => "a symbolic link",
        FileKind.Pipe => "a named pipe (FIFO)",
        FileKind.CharacterDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        _ => "a socket",
    };

    // A call's result: true when it succeeded, false when it failed with the one expected error, else an IOException.
    private static bool Succeeded(int result, int expected, string what)
    {
        if (result == 0)
        {
            return true;
        }

        var error = Marshal.GetLastPInvokeError();
        return error == expected ? false : throw new IOException($"{what}: {Marshal.GetPInvokeErrorMessage(error)}.");
    }

    // Runs a system call on the handle's descriptor while keeping the handle from being closed meanwhile.
    private static int WithDescriptor(SafeFileHandle handle, Func<int, int> call)
    {
        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            return call((int)handle.DangerousGetHandle());
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    private static FileKind FromMode(ushort mode) => (mode & 0xF000) switch
    {
        0x8000 => FileKind.Regular,
        0x4000 => FileKind.Directory,
        0xA000 => FileKind.SymbolicLink,
        0x1000 => FileKind.Pipe,
        0x2000 => FileKind.CharacterDevice,
        0x6000 => FileKind.BlockDevice,
        _ => FileKind.Socket,
    };

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int directory, string path, int flags, uint mask, [Out] byte[] buffer);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "linkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LinkAt(int fromDirectory, string from, int toDirectory, string to, int flags);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(int fd, int operation);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);
}
