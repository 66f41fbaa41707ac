using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;

namespace Watermark.Formats;

/// <summary>
/// The files one model reads: the file opened (part 0) and the files it names — the shards of a sharded
/// safetensors index, the external data files of an ONNX model. A named file must lie inside the opened
/// file's folder: its path is relative, never climbs out with <c>..</c>, and does not resolve (through a
/// symbolic link) to anywhere outside; otherwise a crafted model could make the reader open any file on
/// the machine. Each later read opens the file again and checks again.
/// </summary>
internal sealed class ModelParts
{
    private readonly string source;
    private readonly string? folder;
    private readonly Func<Stream> openFirst;
    private readonly List<string> paths;
    private readonly List<long> lengths = [0];
    private readonly Dictionary<string, int> indices = new(StringComparer.Ordinal);
    private string? realFolder;

    private ModelParts(string source, string? folder, string first, Func<Stream> openFirst)
    {
        this.source = source;
        this.folder = folder;
        this.openFirst = openFirst;
        paths = [first];
        indices[first] = 0;
    }

    /// <summary>The full paths of the parts, the opened file first (for a model in memory, its name).</summary>
    public ImmutableArray<string> Paths => [.. paths];

    /// <summary>The parts of the model file at <paramref name="path"/>.</summary>
    public static ModelParts ForFile(string path, Func<Stream> open)
    {
        var full = Path.GetFullPath(path);
        return new(path, Path.GetDirectoryName(full) ?? full, full, open);
    }

    /// <summary>The parts of a model held in memory: no other file can be one.</summary>
    public static ModelParts InMemory(string source, Func<Stream> open) => new(source, null, source, open);

    /// <summary>
    /// Adds the file at <paramref name="location"/> (relative to the opened file's folder) and returns its part
    /// number; a file already added keeps its number. <paramref name="namedBy"/> says where the model names it
    /// (e.g. <c>weight_map entry 'fc.weight'</c>) and <paramref name="what"/> what it is, for errors.
    /// </summary>
    public int Add(string location, string namedBy, string what)
    {
        ModelFormatException Refused(string problem) =>
            new(source, $"{namedBy} names the {what} '{Shapes.Printable(location)}', {problem}");

        if (folder is null)
        {
            throw Refused($"but a model read from memory has no folder to find it in; open the model from its file (ModelFile.Open, or the CLI's --model) with the {what} beside it.");
        }

        if (location.Length == 0)
        {
            throw Refused("an empty path; the file is corrupt.");
        }

        var confined = $"a model may only read files inside its own folder ('{folder}'). Put the {what} there and name it by a path relative to that folder.";
        if (Path.IsPathRooted(location) || location.StartsWith('/'))
        {
            throw Refused($"an absolute path; {confined}");
        }

        if (location.Contains('\\', StringComparison.Ordinal) || location.AsSpan().ContainsAnyInRange('\0', '\x1f'))
        {
            throw Refused("a path with a backslash or a control character; a location is a relative path with '/' between folders. Rename the file and the reference to it.");
        }

        foreach (var segment in location.Split('/'))
        {
            if (segment == "..")
            {
                throw Refused($"a path that climbs out of the model's folder with '..'; {confined}");
            }
        }

        var full = Path.GetFullPath(Path.Combine(folder, location));
        if (indices.TryGetValue(full, out var known))
        {
            return known;
        }

        using (var stream = OpenConfined(full, location, problem => Refused("which " + problem)))
        {
            lengths.Add(stream.Length);
        }

        paths.Add(full);
        indices[full] = paths.Count - 1;
        return paths.Count - 1;
    }

    /// <summary>The length in bytes of a part: the opened file's as it was when its headers were read, an added one's as it was when added.</summary>
    public long Length(int part) => lengths[part];

    /// <summary>Records the opened file's length, read with its headers.</summary>
    public void SetFirstLength(long length) => lengths[0] = length;

    /// <summary>Opens a part for reading; a named file is confined to the folder again.</summary>
    public Stream Open(int part) =>
        part == 0 ? openFirst() : OpenConfined(paths[part], Path.GetRelativePath(folder!, paths[part]), problem => new ModelFormatException(paths[part], problem));

    private FileStream OpenConfined(string full, string location, Func<string, Exception> error)
    {
        var stream = InputFile.Open(full, error, $"is missing: '{full}' does not exist. Copy it into '{folder}' beside '{Path.GetFileName(paths[0])}'; every file the model names is read from that folder.");
        try
        {
            // The kernel's own path of what was opened: a link anywhere on the way is already resolved.
            if (UnixFiles.RealPathOf(stream.SafeFileHandle) is { } real)
            {
                realFolder ??= RealFolder();
                if (!real.StartsWith(realFolder.EndsWith('/') ? realFolder : realFolder + "/", StringComparison.Ordinal))
                {
                    throw error($"resolves (through a symbolic link) to '{real}', outside the model's folder '{realFolder}'; a model may only read files inside its folder. Copy the file there instead of linking to it.");
                }
            }
            else if (LinkOnTheWay(location) is { } link)
            {
                throw error($"is reached through the symbolic link '{link}', which this platform cannot resolve safely; copy the file into the model's folder instead of linking to it.");
            }

            return stream;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    private string RealFolder()
    {
        using var handle = UnixFiles.TryOpenFolder(folder!);
        return (handle is null ? null : UnixFiles.RealPathOf(handle)) ?? folder!;
    }

    // Without the kernel's record a link cannot be resolved race-free: every link on the way is refused.
    private string? LinkOnTheWay(string location)
    {
        var path = folder!;
        foreach (var segment in location.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            path = Path.Combine(path, segment);
            if (new FileInfo(path).LinkTarget is not null)
            {
                return path;
            }
        }

        return null;
    }
}
