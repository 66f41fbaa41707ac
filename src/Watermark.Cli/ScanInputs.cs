using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.Extensions.FileSystemGlobbing;
using Watermark.Formats;

namespace Watermark.Cli;

/// <summary>One file that <c>scan</c> checks: its full path, the path it is reported under, and why it is there.</summary>
/// <param name="FullPath">The absolute path that is opened.</param>
/// <param name="Path">Relative to the current folder with '/' separators when the file lies under it, else absolute: what JSON Lines, SARIF and the shard hash use.</param>
/// <param name="Explicit">Named on the command line (always checked) rather than found in a folder or by a glob.</param>
/// <param name="Problem">Why the input cannot be checked at all (missing, unreadable folder), or null.</param>
internal sealed record ScanInput(string FullPath, string Path, bool Explicit, string? Problem = null);

/// <summary>A <c>--shard I/N</c> choice: this job takes the files whose path hash is I modulo N (0 ≤ I &lt; N).</summary>
internal sealed record Shard(int Index, int Count)
{
    /// <summary>Whether <paramref name="path"/> (as reported) belongs to this shard.</summary>
    public bool Takes(string path) => (int)(Fnv1a64(path) % (ulong)Count) == Index;

    /// <summary>
    /// FNV-1a, 64-bit, over the UTF-8 bytes of the path: stable across runs, machines and .NET versions (unlike
    /// string.GetHashCode), so a file keeps its shard when others are added or removed.
    /// </summary>
    public static ulong Fnv1a64(string text)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        return hash;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Index}/{Count}";
}

/// <summary>
/// Turns <c>scan</c>'s PATH arguments into the sorted list of files to check: files as named, folders walked
/// recursively, and globs (<c>*</c>, <c>**</c>) the shell left unexpanded. Links to folders are not followed (a link
/// back up the tree would never end), hidden entries (names starting with '.') inside folders are skipped, and from
/// folders and globs only files that look like models are taken.
/// </summary>
internal static class ScanInputs
{
    private static readonly string[] ModelExtensions = [".dat", ".bin", ".safetensors", ".onnx", ".pt", ".pth", ".ckpt"];

    /// <summary>The files to check, sorted by reported path (ordinal), each once; globs that matched nothing are named in <paramref name="unmatched"/>.</summary>
    public static List<ScanInput> Expand(IEnumerable<string> arguments, string currentFolder, List<string> unmatched)
    {
        var found = new Dictionary<string, ScanInput>(StringComparer.Ordinal);
        void Add(string full, bool named, string? problem = null)
        {
            var input = new ScanInput(full, Reported(full, currentFolder), named, problem);
            if (!found.TryGetValue(full, out var earlier) || (named && !earlier.Explicit))
            {
                found[full] = input;
            }
        }

        foreach (var argument in arguments)
        {
            var full = System.IO.Path.GetFullPath(argument, currentFolder);
            switch (UnixFiles.KindOf(full, followLinks: true))
            {
                case FileKind.Directory:
                    foreach (var (file, problem) in Walk(full, int.MaxValue))
                    {
                        if (problem is not null || LooksLikeModel(file))
                        {
                            Add(file, named: problem is not null, problem);
                        }
                    }

                    break;
                case FileKind.Missing when argument.Contains('*', StringComparison.Ordinal):
                    var matches = Glob(argument, currentFolder).ToList();
                    if (matches.Count == 0)
                    {
                        unmatched.Add(argument);
                    }

                    foreach (var (file, problem) in matches)
                    {
                        Add(file, named: problem is not null, problem);
                    }

                    break;
                default:
                    // A file, or anything else named on purpose: checked, so a missing or odd path is reported as unusable, never skipped.
                    Add(full, named: true);
                    break;
            }
        }

        return [.. found.Values.OrderBy(i => i.Path, StringComparer.Ordinal)];
    }

    /// <summary>
    /// Whether a file found in a folder or by a glob is taken: a model extension, a sharded safetensors index
    /// (<c>*.safetensors.index.json</c>), or safetensors/PyTorch content whatever the name.
    /// </summary>
    public static bool LooksLikeModel(string path)
    {
        var name = System.IO.Path.GetFileName(path);
        if (ModelExtensions.Any(e => name.EndsWith(e, StringComparison.OrdinalIgnoreCase))
            || name.EndsWith(".safetensors.index.json", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
            Span<byte> start = stackalloc byte[9];
            var read = stream.ReadAtLeast(start, start.Length, throwOnEndOfStream: false);
            return ModelFile.Detect(string.Empty, start[..read], stream.Length) is not null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // not readable: not taken from a folder (a file named explicitly is reported instead)
        }
    }

    /// <summary>
    /// Leaves out the files that another model of the same scan reads as its parts (the shards of a
    /// <c>*.safetensors.index.json</c>, an ONNX model's external data), found in folders or by globs, so each is checked
    /// once, as part of its model. Files named explicitly stay.
    /// </summary>
    public static List<ScanInput> ExcludeParts(List<ScanInput> inputs, ModelFormat? format)
    {
        var parts = new HashSet<string>(StringComparer.Ordinal);
        foreach (var input in inputs.Where(i => i.Problem is null && MayHaveParts(i.FullPath, format)))
        {
            parts.UnionWith(ModelParts(input.FullPath, format).Skip(1));
        }

        return parts.Count == 0 ? inputs : [.. inputs.Where(i => i.Explicit || !parts.Contains(i.FullPath))];
    }

    /// <summary>
    /// Every file that the model at <paramref name="path"/> reads (<see cref="ModelFile.Parts"/>: a sharded
    /// safetensors index and its shards, an ONNX model and its external data), the model's own file first. An
    /// unreadable model returns its own path only: it is reported as unusable when checked.
    /// </summary>
    internal static IReadOnlyList<string> ModelParts(string path, ModelFormat? format)
    {
        try
        {
            return ModelFile.Open(path, format).Parts;
        }
        catch (WatermarkException)
        {
            return [path];
        }
    }

    private static bool MayHaveParts(string path, ModelFormat? format) =>
        path.EndsWith(".safetensors.index.json", StringComparison.OrdinalIgnoreCase)
        || (format ?? ModelFile.FormatFromExtension(path)) == ModelFormat.Onnx;

    /// <summary>The path as reports show it: relative to <paramref name="currentFolder"/> with '/' when it lies under it, else absolute.</summary>
    public static string Reported(string full, string currentFolder)
    {
        var relative = System.IO.Path.GetRelativePath(currentFolder, full);
        var inside = !System.IO.Path.IsPathRooted(relative) && relative != ".." && !relative.StartsWith(".." + System.IO.Path.DirectorySeparatorChar, StringComparison.Ordinal);
        return (inside ? relative : full).Replace(System.IO.Path.DirectorySeparatorChar, '/');
    }

    // The regular files under a folder (links to files followed, links to folders and hidden entries not), to a
    // depth; a folder that cannot be listed is returned with the reason, so it reads as unusable rather than empty.
    private static IEnumerable<(string File, string? Problem)> Walk(string root, int depth)
    {
        var pending = new Stack<(string Folder, int Depth)>();
        pending.Push((root, 1));
        var options = new EnumerationOptions { IgnoreInaccessible = false, AttributesToSkip = 0, RecurseSubdirectories = false, ReturnSpecialDirectories = false };
        while (pending.Count > 0)
        {
            var (folder, level) = pending.Pop();
            List<string>? entries = null;
            string? reason = null;
            try
            {
                entries = [.. Directory.EnumerateFileSystemEntries(folder, "*", options)];
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                reason = e.Message;
            }

            if (entries is null)
            {
                yield return (folder, $"the folder cannot be listed: {reason}");
                continue;
            }

            foreach (var entry in entries)
            {
                if (System.IO.Path.GetFileName(entry).StartsWith('.'))
                {
                    continue;
                }

                switch (UnixFiles.KindOf(entry, followLinks: false))
                {
                    case FileKind.Directory when level < depth:
                        pending.Push((entry, level + 1));
                        break;
                    case FileKind.Regular:
                        yield return (entry, null);
                        break;
                    case FileKind.SymbolicLink when UnixFiles.KindOf(entry, followLinks: true) == FileKind.Regular:
                        yield return (entry, null);
                        break;
                    default:
                        break; // folders past the depth, links to folders, pipes, sockets, devices
                }
            }
        }
    }

    // A glob's literal leading folders are walked, to the pattern's depth unless it holds "**", and the files
    // under them matched with Microsoft.Extensions.FileSystemGlobbing (case-sensitive, '*' and '**' only).
    private static IEnumerable<(string File, string? Problem)> Glob(string pattern, string currentFolder)
    {
        var normalized = pattern.Replace('\\', '/');
        var segments = normalized.Split('/');
        var literal = segments.TakeWhile(s => !s.Contains('*', StringComparison.Ordinal)).Count();
        var baseFolder = System.IO.Path.GetFullPath(
            literal == 0 ? "." : normalized.StartsWith('/') && literal == 1 ? "/" : string.Join('/', segments.Take(literal)),
            currentFolder);
        var rest = segments.Skip(literal).ToArray();
        if (UnixFiles.KindOf(baseFolder, followLinks: true) != FileKind.Directory)
        {
            yield break;
        }

        var matcher = new Matcher(StringComparison.Ordinal);
        matcher.AddInclude(string.Join('/', rest));
        var depth = rest.Contains("**") ? int.MaxValue : rest.Length;
        var files = Walk(baseFolder, depth).ToList();
        foreach (var (file, problem) in files.Where(f => f.Problem is not null))
        {
            yield return (file, problem);
        }

        foreach (var match in matcher.Match(baseFolder, files.Where(f => f.Problem is null).Select(f => f.File)).Files)
        {
            var file = System.IO.Path.GetFullPath(match.Path, baseFolder);
            if (LooksLikeModel(file))
            {
                yield return (file, null);
            }
        }
    }
}
