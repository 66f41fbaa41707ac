using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Text;

namespace Watermark.Formats.Pickle;

/// <summary>
/// A pickle reader for what <c>torch.save</c> pickles in a state_dict, and nothing more. It is a data
/// parser, not a virtual machine: it knows the opcodes of protocols 2–5 that build plain values
/// (dicts, lists, tuples, str, int, float, bool, None, bytes), and calls nothing. A global is admitted
/// only from a fixed allow-list (<see cref="AllowList"/>); any other — <c>os.system</c>,
/// <c>builtins.eval</c>, a model's own class — ends the read with a <see cref="ModelFormatException"/>
/// naming it, before anything else happens. REDUCE, NEWOBJ and BUILD are interpreted only for the
/// allowed globals (rebuilding a tensor as a view of a storage, making an OrderedDict). Every length is
/// checked against the bytes left before anything is allocated; the stack, the mark depth, the memo and
/// the number of values made are bounded.
/// </summary>
internal sealed class RestrictedUnpickler
{
    /// <summary>Most values on the stack at once (a pickler batches SETITEMS by 1,000 items).</summary>
    public const int MaxStack = 100_000;

    /// <summary>Deepest nesting of MARKs (a state_dict needs about 4).</summary>
    public const int MaxMarkDepth = 100;

    /// <summary>Most values made in all (containers, strings, numbers); about 10 per tensor in a state_dict.</summary>
    public const int MaxValues = 4_000_000;

    /// <summary>Most tensors rebuilt.</summary>
    public const int MaxTensors = 500_000;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly byte[] data;
    private readonly FileCursor cursor;
    private readonly string what;
    private readonly List<object?> stack = [];
    private readonly List<int> marks = [];
    private readonly Dictionary<long, object?> memo = [];
    private readonly Dictionary<string, StorageRef> storages = new(StringComparer.Ordinal);
    private int position;
    private int values;
    private int tensors;

    private RestrictedUnpickler(byte[] data, FileCursor cursor, string what)
    {
        this.data = data;
        this.cursor = cursor;
        this.what = what;
    }

    /// <summary>
    /// Unpickles <paramref name="data"/> (the whole of it, or up to STOP when <paramref name="requireEnd"/>
    /// is false, as the legacy format has several pickles in a row). <paramref name="what"/> names it in errors, e.g. <c>archive/data.pkl</c>.
    /// </summary>
    public static object? Load(byte[] data, FileCursor cursor, string what, out int end, bool requireEnd = true)
    {
        var reader = new RestrictedUnpickler(data, cursor, what);
        var result = reader.Run();
        end = reader.position;
        if (requireEnd && end != data.Length)
        {
            throw cursor.Error($"{what} has {data.Length - end} bytes after the pickle's STOP; a torch.save pickle ends there, so the file is corrupt or crafted.");
        }

        return result;
    }

    private object? Run()
    {
        while (true)
        {
            if (position >= data.Length)
            {
                throw Error("ends before the pickle's STOP opcode; it is truncated");
            }

            var at = position;
            var opcode = data[position++];
            switch (opcode)
            {
                case 0x80: // PROTO
                    var protocol = U8();
                    if (protocol > 5)
                    {
                        throw Error($"is pickle protocol {protocol}; at most 5 exists");
                    }

                    break;
                case 0x95: // FRAME: an 8-byte length; the frame's opcodes follow inline
                    var frame = U64();
                    if (frame > (ulong)(data.Length - position))
                    {
                        throw Error($"declares a frame of {frame} bytes at byte {at} but only {data.Length - position} are left; it is truncated or corrupt");
                    }

                    break;
                case (byte)'.': // STOP
                    if (stack.Count != 1 || marks.Count != 0)
                    {
                        throw Error($"stops with {stack.Count} values on the stack and {marks.Count} open marks; a well-formed pickle leaves exactly one");
                    }

                    return stack[0];
                case (byte)'(': // MARK
                    if (marks.Count >= MaxMarkDepth)
                    {
                        throw Error($"nests more than {MaxMarkDepth} MARKs deep; a state_dict needs a few, so it is corrupt or crafted");
                    }

                    marks.Add(stack.Count);
                    break;
                case (byte)'}': // EMPTY_DICT
                    Push(new PickleDict());
                    break;
                case (byte)']': // EMPTY_LIST
                    Push(new PickleList());
                    break;
                case (byte)')': // EMPTY_TUPLE
                    Push(new PickleTuple([]));
                    break;
                case (byte)'N': // NONE
                    Push(null);
                    break;
                case 0x88: // NEWTRUE
                    Push(true);
                    break;
                case 0x89: // NEWFALSE
                    Push(false);
                    break;
                case (byte)'K': // BININT1
                    Push((long)U8());
                    break;
                case (byte)'M': // BININT2
                    Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2, "a BININT2")));
                    break;
                case (byte)'J': // BININT
                    Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4, "a BININT")));
                    break;
                case 0x8a: // LONG1
                    PushLong(U8());
                    break;
                case 0x8b: // LONG4
                    var longLength = BinaryPrimitives.ReadInt32LittleEndian(Take(4, "a LONG4 length"));
                    if (longLength < 0)
                    {
                        throw Error($"has a LONG4 of negative length at byte {at}; it is corrupt");
                    }

                    PushLong(longLength);
                    break;
                case (byte)'G': // BINFLOAT (big-endian)
                    Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8, "a BINFLOAT")));
                    break;
                case (byte)'X': // BINUNICODE
                    Push(Text(BinaryPrimitives.ReadUInt32LittleEndian(Take(4, "a string length")), at));
                    break;
                case 0x8c: // SHORT_BINUNICODE
                    Push(Text(U8(), at));
                    break;
                case 0x8d: // BINUNICODE8
                    Push(Text(U64(), at));
                    break;
                case (byte)'T': // BINSTRING (Python 2 str)
                    var stringLength = BinaryPrimitives.ReadInt32LittleEndian(Take(4, "a string length"));
                    Push(Text(stringLength < 0 ? ulong.MaxValue : (ulong)stringLength, at));
                    break;
                case (byte)'U': // SHORT_BINSTRING
                    Push(Text(U8(), at));
                    break;
                case (byte)'B': // BINBYTES
                    Push(Bytes(BinaryPrimitives.ReadUInt32LittleEndian(Take(4, "a bytes length")), at));
                    break;
                case (byte)'C': // SHORT_BINBYTES
                    Push(Bytes(U8(), at));
                    break;
                case 0x8e: // BINBYTES8
                    Push(Bytes(U64(), at));
                    break;
                case (byte)'q': // BINPUT
                    Put(U8());
                    break;
                case (byte)'r': // LONG_BINPUT
                    Put(BinaryPrimitives.ReadUInt32LittleEndian(Take(4, "a memo index")));
                    break;
                case 0x94: // MEMOIZE
                    Put(memo.Count);
                    break;
                case (byte)'h': // BINGET
                    Get(U8(), at);
                    break;
                case (byte)'j': // LONG_BINGET
                    Get(BinaryPrimitives.ReadUInt32LittleEndian(Take(4, "a memo index")), at);
                    break;
                case (byte)'0': // POP
                    Pop();
                    break;
                case (byte)'1': // POP_MARK
                    PopMark();
                    break;
                case (byte)'2': // DUP
                    Push(Peek());
                    break;
                case 0x85: // TUPLE1
                case 0x86: // TUPLE2
                case 0x87: // TUPLE3
                    var items = new object?[opcode - 0x84];
                    for (var i = items.Length - 1; i >= 0; i--)
                    {
                        items[i] = Pop();
                    }

                    Push(new PickleTuple(items));
                    break;
                case (byte)'t': // TUPLE
                    Push(new PickleTuple([.. PopMark()]));
                    break;
                case (byte)'a': // APPEND
                    var item = Pop();
                    Expect<PickleList>(Peek(), "APPEND", at).Items.Add(item);
                    break;
                case (byte)'e': // APPENDS
                    var appended = PopMark();
                    Expect<PickleList>(Peek(), "APPENDS", at).Items.AddRange(appended);
                    break;
                case (byte)'s': // SETITEM
                    var value = Pop();
                    var key = Pop();
                    Expect<PickleDict>(Peek(), "SETITEM", at).Set(key, value);
                    break;
                case (byte)'u': // SETITEMS
                    var pairs = PopMark();
                    if (pairs.Count % 2 != 0)
                    {
                        throw Error($"has a SETITEMS with an odd number of values at byte {at}; it is corrupt");
                    }

                    var dict = Expect<PickleDict>(Peek(), "SETITEMS", at);
                    for (var i = 0; i < pairs.Count; i += 2)
                    {
                        dict.Set(pairs[i], pairs[i + 1]);
                    }

                    break;
                case (byte)'c': // GLOBAL: module\nname\n
                    var module = Line(at);
                    var name = Line(at);
                    Push(Global(module, name));
                    break;
                case 0x93: // STACK_GLOBAL
                    var globalName = Pop();
                    var globalModule = Pop();
                    if (globalModule is not string m || globalName is not string n)
                    {
                        throw Error($"has a STACK_GLOBAL at byte {at} whose module and name are not strings; it is corrupt");
                    }

                    Push(Global(m, n));
                    break;
                case (byte)'Q': // BINPERSID
                    Push(PersistentLoad(Pop(), at));
                    break;
                case (byte)'R': // REDUCE
                    var args = Pop();
                    Push(Reduce(Pop(), args, at));
                    break;
                case 0x81: // NEWOBJ
                    var newArgs = Pop();
                    var type = Pop();
                    if (type is PickleGlobal { Kind: AllowedGlobal.OrderedDict } && newArgs is PickleTuple { Items.Length: 0 })
                    {
                        Push(new PickleDict());
                        break;
                    }

                    throw Error($"constructs {Describe(type)} with NEWOBJ at byte {at}, which a state_dict never does; nothing was run");
                case (byte)'b': // BUILD: sets an object's state; kept only for what a state_dict builds (an OrderedDict's _metadata, a Parameter's state)
                    var state = Pop();
                    var target = Peek();
                    if (target is not (PickleDict or TensorRef) || state is not (null or PickleDict or PickleTuple))
                    {
                        throw Error($"sets the state of {Describe(target)} with BUILD at byte {at}, which a state_dict never does; nothing was run");
                    }

                    break;
                default:
                    throw Error($"uses the pickle opcode 0x{opcode:X2}{(opcode is >= 0x20 and < 0x7F ? $" ('{(char)opcode}')" : string.Empty)} at byte {at}, which this reader does not accept (it reads what torch.save writes: protocols 2–5 without code); nothing was run");
            }
        }
    }

    private object? Reduce(object? callable, object? args, int at)
    {
        if (callable is not PickleGlobal global)
        {
            throw Error($"calls {Describe(callable)} with REDUCE at byte {at}; only allowed globals are ever called, so it is crafted; nothing was run");
        }

        if (args is not PickleTuple tuple)
        {
            throw Error($"calls '{global.FullName}' with {Describe(args)} instead of an argument tuple at byte {at}; it is corrupt");
        }

        var a = tuple.Items;
        switch (global.Kind)
        {
            case AllowedGlobal.OrderedDict when a.Length == 0:
                return Count(new PickleDict());
            case AllowedGlobal.RebuildTensorV2 when a.Length is 6 or 7:
                // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
                if (a[0] is not StorageRef storage || a[1] is not long offset || a[2] is not PickleTuple size || a[3] is not PickleTuple stride
                    || a[4] is not bool || a[5] is not PickleDict || (a.Length == 7 && a[6] is not (null or PickleDict)))
                {
                    throw Error($"calls '{global.FullName}' at byte {at} with arguments that are not (storage, offset, size, stride, requires_grad, hooks); it is corrupt or crafted");
                }

                return RebuildTensor(storage, offset, size, stride, at);
            case AllowedGlobal.RebuildParameter when a.Length == 3 && a[0] is TensorRef && a[1] is bool && a[2] is PickleDict:
                return a[0];
            case AllowedGlobal.RebuildParameterWithState when a.Length == 4 && a[0] is TensorRef && a[1] is bool && a[2] is PickleDict && a[3] is null or PickleDict or PickleTuple:
                return a[0];
            default:
                throw Error($"calls '{global.FullName}' with {a.Length} arguments at byte {at}, which a state_dict never does; nothing was run");
        }
    }

    private TensorRef RebuildTensor(StorageRef storage, long offset, PickleTuple sizeTuple, PickleTuple strideTuple, int at)
    {
        if (++tensors > MaxTensors)
        {
            throw Error($"rebuilds more than {MaxTensors} tensors; it is corrupt or crafted");
        }

        var rank = sizeTuple.Items.Length;
        if (rank > Shapes.MaxRank || strideTuple.Items.Length != rank)
        {
            throw Error($"rebuilds a tensor at byte {at} with {rank} sizes and {strideTuple.Items.Length} strides (at most {Shapes.MaxRank}, and as many of each); it is corrupt");
        }

        var size = new long[rank];
        var stride = new long[rank];
        for (var i = 0; i < rank; i++)
        {
            if (sizeTuple.Items[i] is not long s || s < 0 || strideTuple.Items[i] is not long t || t < 0)
            {
                throw Error($"rebuilds a tensor at byte {at} whose size or stride is not a non-negative integer; it is corrupt");
            }

            size[i] = s;
            stride[i] = t;
        }

        var elements = Shapes.ElementCount(size, cursor, $"a tensor in {what}");
        if (offset < 0)
        {
            throw Error($"rebuilds a tensor at byte {at} at the negative storage offset {offset}; it is corrupt");
        }

        if (elements > 0)
        {
            // The last element the view touches must lie in the storage (strides are non-negative).
            var last = offset;
            for (var i = 0; i < rank; i++)
            {
                if (size[i] > 1 && stride[i] > (storage.ElementCount - last) / (size[i] - 1))
                {
                    last = long.MaxValue;
                    break;
                }

                last += (size[i] - 1) * stride[i];
            }

            if (last >= storage.ElementCount)
            {
                throw Error($"rebuilds a tensor of shape {Capacity.ShapeText(size)} (storage offset {offset}, strides {Capacity.ShapeText(stride)}) that needs more than the {storage.ElementCount} elements of storage '{Shapes.Printable(storage.Key)}'; the storage is too short, so the file is corrupt or crafted");
            }
        }

        return Count(new TensorRef(storage, offset, size, stride));
    }

    // The persistent id of a storage: ('storage', storage_type, key, location, numel).
    private StorageRef PersistentLoad(object? pid, int at)
    {
        if (pid is not PickleTuple { Items: ["storage", PickleGlobal { Kind: AllowedGlobal.StorageType } type, string key, string, long numel] })
        {
            throw Error($"has a persistent id at byte {at} that is not ('storage', storage type, key, location, size); only storages are loaded, so it is corrupt or crafted");
        }

        if (key.Length == 0 || key.Length > 64 || !IsPlainKey(key) || numel < 0)
        {
            throw Error($"names a storage '{Shapes.Printable(key)}' of {numel} elements at byte {at}; keys are short names of letters and digits and sizes are not negative, so it is corrupt or crafted");
        }

        var storage = new StorageRef(key, type.Name, type.DType, numel);
        if (storages.TryGetValue(key, out var known))
        {
            if (known != storage)
            {
                throw Error($"describes storage '{key}' twice, differently ({known.TypeName} of {known.ElementCount} elements, then {type.Name} of {numel}); it is corrupt or crafted");
            }

            return known;
        }

        storages.Add(key, storage);
        return Count(storage);
    }

    private static bool IsPlainKey(string key)
    {
        foreach (var c in key)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '_')
            {
                return false;
            }
        }

        return true;
    }

    private PickleGlobal Global(string module, string name)
    {
        if (AllowList.TryGetValue($"{module}.{name}", out var global))
        {
            return global;
        }

        var full = Shapes.Printable($"{module}.{name}");
        var hint = module switch
        {
            "__main__" => " The file pickles a Python class of the script that saved it (torch.save(model)); save model.state_dict() instead.",
            _ when module.StartsWith("__torch__", StringComparison.Ordinal) => " It is a TorchScript archive (torch.jit.save); save model.state_dict() with torch.save instead.",
            _ when module.StartsWith("torch", StringComparison.Ordinal) => " It holds torch objects other than plain tensors (e.g. quantized or sparse tensors, or a whole module); save model.state_dict() of plain tensors.",
            _ => " A state_dict never needs it; the file may be crafted to run code when loaded with torch.load.",
        };
        throw cursor.Error($"{what} refuses to run pickle global '{full}': only a state_dict's globals are allowed (collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, torch storage types and dtypes), and nothing was run.{hint}");
    }

    private static Dictionary<string, PickleGlobal> BuildAllowList()
    {
        var list = new Dictionary<string, PickleGlobal>(StringComparer.Ordinal);
        void Add(string module, string name, AllowedGlobal kind, TensorDType dtype = TensorDType.Unsupported) =>
            list.Add($"{module}.{name}", new PickleGlobal(module, name, kind, dtype));

        Add("collections", "OrderedDict", AllowedGlobal.OrderedDict);
        Add("torch._utils", "_rebuild_tensor_v2", AllowedGlobal.RebuildTensorV2);
        Add("torch._utils", "_rebuild_parameter", AllowedGlobal.RebuildParameter);
        Add("torch._utils", "_rebuild_parameter_with_state", AllowedGlobal.RebuildParameterWithState);
        foreach (var (storage, dtype) in StorageTypes)
        {
            Add("torch", storage, AllowedGlobal.StorageType, dtype);
        }

        foreach (var (name, dtype) in DTypes)
        {
            Add("torch", name, AllowedGlobal.DType, dtype);
        }

        return list;
    }

    /// <summary>The typed storages torch.save names, with their element types.</summary>
    internal static readonly (string Name, TensorDType DType)[] StorageTypes =
    [
        ("FloatStorage", TensorDType.Float32), ("DoubleStorage", TensorDType.Float64), ("HalfStorage", TensorDType.Float16),
        ("BFloat16Storage", TensorDType.BFloat16), ("LongStorage", TensorDType.Int64), ("IntStorage", TensorDType.Int32),
        ("ShortStorage", TensorDType.Int16), ("CharStorage", TensorDType.Int8), ("ByteStorage", TensorDType.UInt8),
        ("BoolStorage", TensorDType.Bool), ("ComplexFloatStorage", TensorDType.Complex64), ("ComplexDoubleStorage", TensorDType.Complex128),
    ];

    private static readonly (string Name, TensorDType DType)[] DTypes =
    [
        ("float32", TensorDType.Float32), ("float", TensorDType.Float32), ("float64", TensorDType.Float64), ("double", TensorDType.Float64),
        ("float16", TensorDType.Float16), ("half", TensorDType.Float16), ("bfloat16", TensorDType.BFloat16),
        ("int64", TensorDType.Int64), ("long", TensorDType.Int64), ("int32", TensorDType.Int32), ("int", TensorDType.Int32),
        ("int16", TensorDType.Int16), ("short", TensorDType.Int16), ("int8", TensorDType.Int8), ("uint8", TensorDType.UInt8),
        ("bool", TensorDType.Bool), ("complex64", TensorDType.Complex64), ("cfloat", TensorDType.Complex64),
        ("complex128", TensorDType.Complex128), ("cdouble", TensorDType.Complex128),
    ];

    /// <summary>The globals a state_dict needs, by <c>module.name</c> (after the tables it is built from: static fields initialise in order).</summary>
    public static IReadOnlyDictionary<string, PickleGlobal> AllowList { get; } = BuildAllowList();

    private static string Describe(object? value) => value switch
    {
        null => "None",
        PickleGlobal g => $"'{g.FullName}'",
        PickleDict => "a dict",
        PickleList => "a list",
        PickleTuple => "a tuple",
        TensorRef => "a tensor",
        StorageRef => "a storage",
        string => "a string",
        long or PickleBigInteger => "an integer",
        double => "a float",
        bool => "a bool",
        byte[] => "bytes",
        _ => "a value",
    };

    private static T Expect<T>(object? target, string op, int at, RestrictedUnpickler reader)
        where T : class =>
        target as T ?? throw reader.Error($"applies {op} to {Describe(target)} at byte {at}; it is corrupt");

    private T Expect<T>(object? target, string op, int at)
        where T : class => Expect<T>(target, op, at, this);

    private T Count<T>(T value)
    {
        if (++values > MaxValues)
        {
            throw Error($"makes more than {MaxValues} values; it is corrupt or crafted");
        }

        return value;
    }

    private void Push(object? value)
    {
        if (stack.Count >= MaxStack)
        {
            throw Error($"holds more than {MaxStack} values on its stack; it is corrupt or crafted");
        }

        stack.Add(Count(value));
    }

    private object? Pop()
    {
        var floor = marks.Count > 0 ? marks[^1] : 0;
        if (stack.Count <= floor)
        {
            throw Error($"pops from an empty stack at byte {position - 1}; it is corrupt");
        }

        var value = stack[^1];
        stack.RemoveAt(stack.Count - 1);
        return value;
    }

    private object? Peek()
    {
        var floor = marks.Count > 0 ? marks[^1] : 0;
        if (stack.Count <= floor)
        {
            throw Error($"reads an empty stack at byte {position - 1}; it is corrupt");
        }

        return stack[^1];
    }

    private List<object?> PopMark()
    {
        if (marks.Count == 0)
        {
            throw Error($"closes a MARK that was never opened at byte {position - 1}; it is corrupt");
        }

        var mark = marks[^1];
        marks.RemoveAt(marks.Count - 1);
        var items = stack.GetRange(mark, stack.Count - mark);
        stack.RemoveRange(mark, stack.Count - mark);
        return items;
    }

    private void Put(long index)
    {
        if (!memo.ContainsKey(index) && memo.Count >= MaxValues)
        {
            throw Error($"memoizes more than {MaxValues} values; it is corrupt or crafted");
        }

        memo[index] = Peek();
    }

    private void Get(long index, int at)
    {
        if (!memo.TryGetValue(index, out var value))
        {
            throw Error($"reads memo entry {index} at byte {at}, which was never stored; it is corrupt");
        }

        Push(value);
    }

    private void PushLong(int length)
    {
        var bytes = Take(length, "an integer");
        if (length > 8)
        {
            Push(new PickleBigInteger());
            return;
        }

        // Little-endian two's complement of `length` bytes, sign-extended.
        long value = 0;
        for (var i = length - 1; i >= 0; i--)
        {
            value = (value << 8) | bytes[i];
        }

        if (length is > 0 and < 8 && (bytes[length - 1] & 0x80) != 0)
        {
            value -= 1L << (8 * length);
        }

        Push(value);
    }

    private string Text(ulong length, int at)
    {
        if (length > (ulong)(data.Length - position))
        {
            throw Error($"declares a string of {length} bytes at byte {at} but only {data.Length - position} bytes are left; it is truncated or crafted");
        }

        try
        {
            return StrictUtf8.GetString(Take((int)length, "a string"));
        }
        catch (DecoderFallbackException)
        {
            throw Error($"holds a string at byte {at} that is not valid UTF-8; it is corrupt");
        }
    }

    private byte[] Bytes(ulong length, int at)
    {
        if (length > (ulong)(data.Length - position))
        {
            throw Error($"declares {length} bytes at byte {at} but only {data.Length - position} are left; it is truncated or crafted");
        }

        return Take((int)length, "bytes").ToArray();
    }

    private string Line(int at)
    {
        var end = Array.IndexOf(data, (byte)'\n', position, Math.Min(data.Length - position, 1024));
        if (end < 0)
        {
            throw Error($"has a GLOBAL at byte {at} without a line end within 1,024 bytes; it is corrupt");
        }

        var line = Take(end - position, "a global name");
        position++;
        try
        {
            return StrictUtf8.GetString(line);
        }
        catch (DecoderFallbackException)
        {
            throw Error($"has a GLOBAL at byte {at} that is not valid UTF-8; it is corrupt");
        }
    }

    private byte U8() => Take(1, "an opcode argument")[0];

    private ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, "an 8-byte length"));

    private ReadOnlySpan<byte> Take(int count, string thing)
    {
        if (count < 0 || count > data.Length - position)
        {
            throw Error($"ends inside {thing} at byte {position}; it is truncated");
        }

        var span = data.AsSpan(position, count);
        position += count;
        return span;
    }

    private ModelFormatException Error(string problem) => cursor.Error($"{what} {problem}.");
}
