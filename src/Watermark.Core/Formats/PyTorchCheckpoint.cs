using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Text;
using Watermark.Formats.Pickle;

namespace Watermark.Formats;

/// <summary>
/// What <c>torch.save(state_dict, path)</c> writes since PyTorch 1.6: a zip archive of stored (not
/// compressed) members <c>ARCHIVE/data.pkl</c> (a pickle of the state_dict whose tensors refer to
/// storages by key), <c>ARCHIVE/data/KEY</c> (each storage's raw little-endian bytes),
/// <c>ARCHIVE/version</c> and, since 1.13, <c>ARCHIVE/byteorder</c>. The pickle is read by
/// <see cref="RestrictedUnpickler"/>, which runs nothing and admits only a state_dict's globals; the
/// storages are located through the zip central directory and never read at open.
/// </summary>
internal static class PyTorchCheckpoint
{
    /// <summary>Largest data.pkl read (a state_dict's pickle takes about 200 bytes per tensor).</summary>
    public const long MaxPickleBytes = 64L * 1024 * 1024;

    /// <summary>What DataParallel and DistributedDataParallel put before every name.</summary>
    public const string DataParallelPrefix = "module.";

    /// <summary>The nested keys under which a checkpoint keeps its state_dict, most preferred first.</summary>
    public static readonly ImmutableArray<string> PreferredKeys = ["state_dict", "model", "model_state_dict"];

    // The first 9 bytes of the legacy format (torch.save with _use_new_zipfile_serialization=False, or
    // before 1.6): pickle protocol 2, then LONG1 of the magic number 0x1950a86a20f9469cfc6c.
    private static ReadOnlySpan<byte> LegacyStart => [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9];

    /// <summary>Whether the file starts like a PyTorch checkpoint: a zip archive, or the legacy pickle's magic number.</summary>
    public static bool LooksLike(ReadOnlySpan<byte> start) => ZipIndex.LooksLike(start) || start.StartsWith(LegacyStart);

    public static List<TensorEntry> ReadIndex(FileCursor cursor)
    {
        Span<byte> start = stackalloc byte[LegacyStart.Length];
        var read = Math.Min(start.Length, (int)Math.Min(cursor.Remaining, start.Length));
        cursor.ReadExactly(start[..read], "the first bytes");
        if (start[..read].SequenceEqual(LegacyStart))
        {
            throw cursor.Error("is a PyTorch checkpoint in the legacy format (saved before PyTorch 1.6 or with _use_new_zipfile_serialization=False), which is not read; re-save it with torch.save(torch.load(path), path) in PyTorch ≥ 1.6.");
        }

        if (!ZipIndex.LooksLike(start[..read]))
        {
            throw cursor.Error("unknown format: it is named like a PyTorch checkpoint, but torch.save (PyTorch ≥ 1.6) writes a zip archive and this file does not start with one. If it is another format, rename it (.dat, .safetensors, .onnx) or pass --format dat|safetensors|onnx.");
        }

        var members = ZipIndex.Read(cursor);
        var pickles = members.Keys.Where(n => n.EndsWith("/data.pkl", StringComparison.Ordinal) && n.IndexOf('/', StringComparison.Ordinal) == n.Length - "/data.pkl".Length).ToList();
        if (pickles.Count != 1)
        {
            throw cursor.Error(pickles.Count == 0
                ? "is a zip archive without ARCHIVE/data.pkl, so it is not a checkpoint written by torch.save."
                : $"is a zip archive with {pickles.Count} data.pkl members ({string.Join(", ", pickles.Take(3).Select(p => $"'{Shapes.Printable(p)}'"))}); torch.save writes one, so the file is ambiguous.");
        }

        var archive = pickles[0][..^"/data.pkl".Length];
        CheckByteOrder(cursor, members, archive);
        var pickleMember = members[pickles[0]];
        var pickleBytes = ReadMember(cursor, pickleMember, MaxPickleBytes);
        var root = RestrictedUnpickler.Load(pickleBytes, cursor, Shapes.Printable(pickles[0]), out _);
        var tensors = StateDict(cursor, root);
        var offsets = new Dictionary<string, long>(StringComparer.Ordinal);
        var entries = new List<TensorEntry>(tensors.Count);
        foreach (var (name, tensor) in tensors)
        {
            entries.Add(Entry(cursor, members, archive, offsets, name, tensor));
        }

        return entries;
    }

    private static void CheckByteOrder(FileCursor cursor, Dictionary<string, ZipMember> members, string archive)
    {
        if (!members.TryGetValue(archive + "/byteorder", out var member))
        {
            return; // before 1.13 there is no such member; those versions wrote the machine's order, little-endian everywhere torch runs.
        }

        var order = ReadMember(cursor, member, 16);
        if (!order.AsSpan().SequenceEqual("little"u8))
        {
            throw cursor.Error($"was saved on a machine whose byte order is '{Shapes.Printable(Encoding.ASCII.GetString(order))}'; only little-endian checkpoints are read. Load and re-save it on a little-endian machine.");
        }
    }

    private static byte[] ReadMember(FileCursor cursor, ZipMember member, long limit)
    {
        CheckStored(cursor, member);
        if (member.Size > limit)
        {
            throw cursor.Error($"has a zip member '{Shapes.Printable(member.Name)}' of {member.Size} bytes, more than the {limit} read for it; it is corrupt or crafted.");
        }

        cursor.Seek(ZipIndex.DataOffset(cursor, member));
        return cursor.ReadBytes(member.Size, $"the zip member '{Shapes.Printable(member.Name)}'");
    }

    private static void CheckStored(FileCursor cursor, ZipMember member)
    {
        if (member.Method != 0 || member.CompressedSize != member.Size)
        {
            throw cursor.Error($"has the zip member '{Shapes.Printable(member.Name)}' compressed (method {member.Method}); torch.save stores members uncompressed, and only stored members are read. Load and re-save it with torch.save.");
        }
    }

    // The tensors of the state_dict: the top-level dict when its values are all tensors; otherwise the one
    // value of the top-level dict that is a dict of tensors only (several: "state_dict", then "model", then
    // "model_state_dict"). When every name starts with "module." (DataParallel), the prefix is dropped.
    private static List<(string Name, TensorRef Tensor)> StateDict(FileCursor cursor, object? root)
    {
        if (root is not PickleDict top)
        {
            throw cursor.Error($"holds {Kind(root)} rather than a dict; save a state_dict (torch.save(model.state_dict(), path)).");
        }

        var chosen = AsTensors(top);
        if (chosen is null)
        {
            var candidates = new List<(string Key, List<(string Name, TensorRef Tensor)> Tensors)>();
            foreach (var (key, value) in top.Items)
            {
                if (key is string name && value is PickleDict inner && AsTensors(inner) is { } found)
                {
                    candidates.Add((name, found));
                }
            }

            if (candidates.Count == 0)
            {
                var keys = string.Join(", ", top.Items.Take(8).Select(p => p.Key is string k ? $"'{Shapes.Printable(k)}'" : Kind(p.Key)));
                throw cursor.Error($"holds a dict ({(keys.Length == 0 ? "empty" : "keys " + keys)}) that is neither a state_dict of tensors nor holds one (as under 'state_dict' or 'model'); save a state_dict (torch.save(model.state_dict(), path)).");
            }

            if (candidates.Count == 1)
            {
                chosen = candidates[0].Tensors;
            }
            else
            {
                var preferred = PreferredKeys.FirstOrDefault(k => candidates.Any(c => c.Key == k))
                    ?? throw cursor.Error($"holds several dicts of tensors ({string.Join(", ", candidates.Take(6).Select(c => $"'{Shapes.Printable(c.Key)}'"))}) and none is named {string.Join(", ", PreferredKeys.Select(k => $"'{k}'"))}; save the one state_dict to verify on its own.");
                chosen = candidates.First(c => c.Key == preferred).Tensors;
            }
        }

        if (chosen.Count > 0 && chosen.All(t => t.Name.StartsWith(DataParallelPrefix, StringComparison.Ordinal) && t.Name.Length > DataParallelPrefix.Length))
        {
            chosen = [.. chosen.Select(t => (t.Name[DataParallelPrefix.Length..], t.Tensor))];
        }

        return chosen;
    }

    // The dict's items when every key is a string and every value a tensor; null otherwise.
    private static List<(string Name, TensorRef Tensor)>? AsTensors(PickleDict dict)
    {
        if (dict.Items.Count == 0)
        {
            return null;
        }

        var tensors = new List<(string, TensorRef)>(dict.Items.Count);
        foreach (var (key, value) in dict.Items)
        {
            if (key is not string name || value is not TensorRef tensor)
            {
                return null;
            }

            tensors.Add((name, tensor));
        }

        return tensors;
    }

    private static TensorEntry Entry(FileCursor cursor, Dictionary<string, ZipMember> members, string archive, Dictionary<string, long> offsets, string name, TensorRef tensor)
    {
        var printable = Shapes.Printable(name);
        if (name.Length == 0 || Encoding.UTF8.GetByteCount(name) > Shapes.MaxNameBytes)
        {
            throw cursor.Error($"has a tensor name that is empty or longer than {Shapes.MaxNameBytes} bytes ('{printable}'); the file is corrupt or crafted.");
        }

        var storage = tensor.Storage;
        var memberName = $"{archive}/data/{storage.Key}";
        if (!members.TryGetValue(memberName, out var member))
        {
            throw cursor.Error($"tensor '{printable}' refers to storage '{storage.Key}', but the archive has no member '{Shapes.Printable(memberName)}'; the file is truncated, corrupt or crafted.");
        }

        var size = storage.DType.Size();
        if (!offsets.TryGetValue(storage.Key, out var start))
        {
            CheckStored(cursor, member);
            if (storage.ElementCount > long.MaxValue / 16 || member.Size != storage.ElementCount * size)
            {
                throw cursor.Error($"storage '{storage.Key}' (of tensor '{printable}') is {member.Size} bytes in the archive, but the pickle says {storage.ElementCount} elements of {storage.DType.DisplayName()}; the storage is shorter or longer than the tensors need, so the file is corrupt or crafted.");
            }

            start = ZipIndex.DataOffset(cursor, member);
            offsets.Add(storage.Key, start);
        }

        var shape = tensor.Size.ToImmutableArray();
        var elements = Shapes.ElementCount(shape, cursor, $"tensor '{printable}'");
        var rowMajor = IsRowMajor(tensor.Size, tensor.Stride);
        long span = 0;
        if (elements > 0)
        {
            // The view spans from its first element to its last (checked to lie in the storage when unpickled).
            long last = 0;
            for (var i = 0; i < tensor.Size.Length; i++)
            {
                last += (tensor.Size[i] - 1) * tensor.Stride[i];
            }

            span = (last + 1) * size;
            // More elements than the bytes they span means elements repeat (an expanded, stride-0 view): a
            // few bytes of file could then make a read allocate gigabytes, and no trained weight looks so.
            if (elements > last + 1)
            {
                throw cursor.Error($"tensor '{printable}' of shape {Capacity.ShapeText(shape)} repeats elements of its storage (strides {Capacity.ShapeText(tensor.Stride)}, e.g. an expanded view); such a tensor is not read. Save tensor.clone() instead.");
            }
        }

        return new TensorEntry(name, shape, storage.DType, storage.DType.DisplayName(), elements, start + (tensor.Offset * size), span, contiguous: true,
            strides: rowMajor ? default : [.. tensor.Stride]);
    }

    // Whether the strides are those of a row-major (C-contiguous) tensor; dimensions of size 1 have any stride.
    private static bool IsRowMajor(long[] size, long[] stride)
    {
        long expected = 1;
        for (var i = size.Length - 1; i >= 0; i--)
        {
            if (size[i] == 0)
            {
                return true;
            }

            if (size[i] != 1 && stride[i] != expected)
            {
                return false;
            }

            expected *= size[i];
        }

        return true;
    }

    /// <summary>
    /// The row-major values of a strided view, gathered from <paramref name="span"/> (the bytes from the view's
    /// first element to its last) by <paramref name="strides"/> in elements.
    /// </summary>
    public static byte[] Gather(ReadOnlySpan<byte> span, ImmutableArray<long> shape, ImmutableArray<long> strides, int elementSize, long elementCount)
    {
        var result = new byte[elementCount * elementSize];
        if (elementCount == 0)
        {
            return result;
        }

        var rank = shape.Length;
        var index = new long[rank];
        long offset = 0;
        for (long n = 0; n < elementCount; n++)
        {
            span.Slice((int)(offset * elementSize), elementSize).CopyTo(result.AsSpan((int)(n * elementSize), elementSize));
            // Advance the multi-index like an odometer, last dimension fastest.
            for (var d = rank - 1; d >= 0; d--)
            {
                if (++index[d] < shape[d])
                {
                    offset += strides[d];
                    break;
                }

                offset -= (shape[d] - 1) * strides[d];
                index[d] = 0;
            }
        }

        return result;
    }

    /// <summary>
    /// The 4-byte patches that set the CRC-32 of every zip member that <paramref name="patches"/> change, in
    /// its local header and its central directory entry, to the CRC of its bytes after the patches.
    /// </summary>
    public static List<(long Offset, byte[] Bytes)> CrcPatches(FileCursor cursor, IReadOnlyList<(long Offset, byte[] Bytes)> patches)
    {
        var members = ZipIndex.Read(cursor).Values.OrderBy(m => m.LocalHeaderOffset).ToList();
        var changed = new Dictionary<ZipMember, long>();
        foreach (var (offset, bytes) in patches)
        {
            // The member whose local header is the last one before the patch holds it.
            var member = members.LastOrDefault(m => m.LocalHeaderOffset < offset)
                ?? throw new ArgumentException($"No zip member holds byte {offset}.", nameof(patches));
            var start = changed.TryGetValue(member, out var known) ? known : ZipIndex.DataOffset(cursor, member);
            if (offset < start || offset + bytes.Length > start + member.Size || member.Size > Array.MaxLength)
            {
                throw new ArgumentException($"The patch at byte {offset} does not lie within the zip member '{member.Name}'.", nameof(patches));
            }

            changed[member] = start;
        }

        var crcs = new List<(long, byte[])>();
        foreach (var (member, start) in changed)
        {
            cursor.Seek(start);
            var data = cursor.ReadBytes(member.Size, $"the zip member '{Shapes.Printable(member.Name)}'");
            foreach (var (offset, bytes) in patches)
            {
                if (offset >= start && offset < start + member.Size)
                {
                    bytes.CopyTo(data.AsSpan((int)(offset - start)));
                }
            }

            var crc = BitConverter.GetBytes(Crc32.Compute(data));
            if (!BitConverter.IsLittleEndian)
            {
                Array.Reverse(crc);
            }

            crcs.Add((member.LocalHeaderOffset + 14, crc));
            crcs.Add((member.CentralOffset + 16, crc));
        }

        return crcs;
    }

    private static string Kind(object? value) => value switch
    {
        null => "None",
        TensorRef => "a single tensor",
        PickleList => "a list",
        PickleTuple => "a tuple",
        string => "a string",
        _ => "a value that is not a dict",
    };
}
