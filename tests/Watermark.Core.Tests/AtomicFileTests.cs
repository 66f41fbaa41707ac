using System;
using System.IO;
using System.Linq;
using System.Runtime.Versioning;
using System.Threading;
using System.Threading.Tasks;
using Xunit;

namespace Watermark.Tests;

/// <summary>
/// Atomic writes as the red-team pass found them: a kill during the write left a named temporary
/// (for keygen, a 0600 file holding the whole seed) forever; replaced files lost their mode; existing
/// files and special files were replaced without a word.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class AtomicFileTests : IDisposable
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly string folder = Directory.CreateTempSubdirectory("wmk-atomic-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private string PathOf(string name) => Path.Combine(folder, name);

    [Fact]
    public async Task WhileTheDataIsWrittenNothingInTheFolderHoldsIt()
    {
        // What a kill during the write (e.g. in the fsync) would leave behind: on Linux, nothing — the
        // data sits in an unnamed file that the kernel frees with the process.
        var path = PathOf("key.json");
        using var writing = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var writer = Task.Run(() => AtomicFile.Write(path, s =>
        {
            s.Write("secret seed"u8);
            s.Flush();
            writing.Set();
            release.Wait(TimeSpan.FromSeconds(30));
        }, ownerOnly: true, replace: false));
        Assert.True(writing.Wait(TimeSpan.FromSeconds(30)));
        Assert.Empty(Directory.GetFileSystemEntries(folder));
        release.Set();
        await writer;
        Assert.Equal(["key.json"], Directory.GetFileSystemEntries(folder).Select(Path.GetFileName));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(path));
    }

    [Fact]
    public void TemporariesOfDeadWritersAreRemovedAndLiveOnesKept()
    {
        var path = PathOf("model.dat");
        var dead = PathOf($".model.dat.{Guid.NewGuid():N}.tmp");
        var live = PathOf($".model.dat.{Guid.NewGuid():N}.tmp");
        var unrelated = PathOf($".other.dat.{Guid.NewGuid():N}.tmp");
        File.WriteAllText(dead, "left by a killed writer");
        File.WriteAllText(live, "being written");
        File.WriteAllText(unrelated, "another target's");
        using (new FileStream(live, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
        {
            AtomicFile.Write(path, s => s.Write("new"u8));
        }

        Assert.False(File.Exists(dead));
        Assert.True(File.Exists(live));
        Assert.True(File.Exists(unrelated));
        Assert.Equal("new", File.ReadAllText(path));
    }

    [Fact]
    public void AReplacedFileKeepsItsModeAndANewOneMayNotReplace()
    {
        var path = PathOf("private.dat");
        File.WriteAllText(path, "old");
        File.SetUnixFileMode(path, OwnerOnly);
        AtomicFile.Write(path, s => s.Write("new"u8));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(path));
        Assert.Equal("new", File.ReadAllText(path));

        var e = Assert.Throws<IOException>(() => AtomicFile.Write(path, s => s.Write("newer"u8), ownerOnly: false, replace: false));
        Assert.Contains("already exists", e.Message, StringComparison.Ordinal);
        Assert.Equal("new", File.ReadAllText(path));
        Assert.Single(Directory.GetFileSystemEntries(folder));
    }

    [Fact]
    public void OnlyRegularFilesAreEverReplaced()
    {
        var target = PathOf("target");
        File.WriteAllText(target, "kept");
        var link = PathOf("link");
        File.CreateSymbolicLink(link, target);
        Directory.CreateDirectory(PathOf("folder"));
        var fifo = PathOf("fifo");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo]))
        {
            mkfifo.WaitForExit();
        }

        // (Never /dev/null here: as root, a regression would replace the system's node.)
        foreach (var path in new[] { link, PathOf("folder"), fifo })
        {
            Assert.Throws<IOException>(() => AtomicFile.Write(path, s => s.Write("x"u8)));
        }

        Assert.Equal("kept", File.ReadAllText(target));
        Assert.NotNull(new FileInfo(link).LinkTarget);
        Assert.Equal(FileKind.Pipe, UnixFiles.KindOf(fifo, followLinks: false));
    }

    [Fact]
    public void KeyFilesAreNeverReplacedUnlessAsked()
    {
        var path = PathOf("key.json");
        var first = new Keyring(WatermarkKey.Create("w", [8, 4, 3, 3], 16));
        first.Save(path);
        var before = File.ReadAllBytes(path);
        var e = Assert.Throws<IOException>(() => new Keyring(WatermarkKey.Create("w", [8, 4, 3, 3], 16)).Save(path));
        Assert.Contains("not replaced", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(path));

        new Keyring(WatermarkKey.Create("w", [8, 4, 3, 3], 16)).Save(path, overwrite: true);
        Assert.NotEqual(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void ConcurrentAppendsKeepEverySlot()
    {
        var path = PathOf("key.json");
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, writer =>
        {
            for (var i = 0; i < 15; i++)
            {
                Keyring.Append(path, [WatermarkKey.Create($"w{writer}.{i}", [8, 4, 3, 3], 16)]);
            }
        });
        Assert.Equal(60, Keyring.Load(path).Slots.Length);
        Assert.Equal(["key.json"], Directory.GetFileSystemEntries(folder).Select(Path.GetFileName));
    }

    [Fact]
    public void AnAppendWaitsForTheLockAndGivesUpWithAClearError()
    {
        var path = PathOf("key.json");
        using (KeyFileLock.Acquire(path))
        {
            var e = Assert.Throws<KeyFileException>(() => KeyFileLock.Acquire(path, TimeSpan.FromMilliseconds(200)));
            Assert.Contains("another process", e.Message, StringComparison.Ordinal);
        }

        using (KeyFileLock.Acquire(path, TimeSpan.FromMilliseconds(200)))
        {
        }
    }
}
