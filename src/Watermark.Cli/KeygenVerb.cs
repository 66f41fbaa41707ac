using System;
using System.Collections.Generic;
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.IO;
using System.Linq;
using Watermark.Formats;

namespace Watermark.Cli;

/// <summary><c>watermark keygen</c>: a new secret key per slot, written to (or added to) a key file.</summary>
internal static class KeygenVerb
{
    public static Command Create(CliConsole console)
    {
        var model = TypedOptions.FilePath("--model", ["-m"], "A model file to read each --param's shape from (TorchSharp .dat, safetensors or ONNX).", "FILE", required: false);
        var format = WatermarkCommand.FormatOption();
        var param = new Option<string[]>("--param", "-p")
        {
            Description = "The state_dict name of a host weight, e.g. g2.block0.conv2.weight. Repeat it to mark several layers, each with its own seed.",
            HelpName = "NAME",
            Required = true,
            Arity = ArgumentArity.OneOrMore,
        };
        param.Validators.Add(result =>
        {
            var repeated = result.Tokens.GroupBy(t => t.Value, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
            if (repeated is not null)
            {
                result.AddError($"--param '{repeated.Key}' is given twice; a key file holds one key per parameter.");
            }
        });
        var shape = new Option<long[]?>("--shape")
        {
            Description = "The host weight's shape instead of --model, e.g. 64,64,3,3 for a Conv2d [L, D, S, S]; needs exactly one --param.",
            HelpName = "L,D,S,S",
            Arity = ArgumentArity.ExactlyOne,
            CustomParser = result => ParseShape(result),
        };
        var bits = TypedOptions.Integer(
            "--bits",
            ["-t"],
            "T, the number of embedded bits; must stay below M, the filter-mean length (the paper uses 256).",
            "T",
            1,
            Keyring.MaxBits,
            $"must be a whole number of bits from 1 to {Keyring.MaxBits} (the paper uses 256)",
            256);
        var kind = TypedOptions.OneOf<KeyKind>(
            "--kind",
            "How the secret projection X is built: random (N(0,1) entries, the paper's choice), direct or diff.",
            "random",
            new("random", KeyKind.Random),
            new("direct", KeyKind.Direct),
            new("diff", KeyKind.Diff));
        var message = new Option<Message?>("--message")
        {
            Description = "The owner's message as text (UTF-8), repeated to fill T bits. Without it the paper's all-ones message is used.",
            HelpName = "TEXT",
            CustomParser = result =>
            {
                try
                {
                    return Message.FromText(result.Tokens[0].Value);
                }
                catch (ArgumentException)
                {
                    return TypedOptions.Reject<Message?>(result, "--message", "must be non-empty text (leave it out for the paper's all-ones message)");
                }
            },
        };
        var strength = TypedOptions.Real(
            "--strength",
            "λ, the weight of the embedding loss in training.",
            "LAMBDA",
            l => l > 0 && double.IsFinite(l),
            "must be a positive number such as 0.01 (the paper's λ)",
            WatermarkKey.DefaultStrength);
        var noWhitening = new Option<bool>("--no-whitening")
        {
            Description = "Embed the message bits as they are, as the paper's code does. By default they are XOR-ed with a key-derived mask, " +
                          "so that biased weights cannot fake a match and the p-value holds.",
        };
        var ecc = new Option<CodeRequest>("--ecc")
        {
            Description = "The error-correcting code of --message, so that it reads back exactly after bit errors: auto (the strongest BCH code " +
                          "that fits T; the default), none (the message repeated and read back by a majority vote), or bch:N,K " +
                          "(a BCH code of N bits carrying K = 8 × the message's bytes). The verdict never depends on it.",
            HelpName = "auto|none|bch:N,K",
            DefaultValueFactory = _ => CodeRequest.Auto,
            CustomParser = result =>
            {
                var text = result.Tokens[0].Value;
                var request = CodeRequest.TryParse(text);
                if (request is null)
                {
                    result.AddError($"--ecc '{text}' is not auto, none or bch:N,K (e.g. bch:252,160).");
                }

                return request;
            },
        };
        var output = TypedOptions.FilePath("--out", ["-o"], "The key file to write (mode 0600). Keep it secret and backed up: without it no mark can be proven.", "KEY.json");
        var append = new Option<bool>("--append") { Description = "Add the new slots to an existing key file instead of refusing to overwrite it." };
        var force = new Option<bool>("--force") { Description = "Replace an existing key file (its keys are lost)." };
        var command = new Command(
            "keygen",
            "Makes a secret key for each host weight and writes them to a key file. The shape comes from --model or --shape.")
        {
            model, format, param, shape, bits, kind, message, strength, noWhitening, ecc, output, append, force,
        };
        command.SetGuardedAction(console, parsed =>
        {
            var names = parsed.GetValue(param)!;
            var path = parsed.GetValue(output)!;
            var appending = parsed.GetValue(append);
            var replacing = parsed.GetValue(force);
            if (appending && replacing)
            {
                throw new UsageException("--append adds slots to the key file and --force replaces it; give one of them.");
            }

            if (File.Exists(path) && !appending && !replacing)
            {
                throw new UsageException($"'{path}' already exists; pass --append to add slots to it or --force to replace it (its keys would be lost).");
            }

            // Everything the arguments alone decide is checked before --model is read.
            var t = parsed.GetValue(bits);
            var chosen = parsed.GetValue(message) ?? Message.AllOnes;
            if (!chosen.FitsIn(t))
            {
                throw new UsageException($"--message has {chosen.BitLength} bits but the slot carries only {t}; use a shorter --message or more --bits.");
            }

            var code = ResolveCode(parsed.GetValue(ecc)!, chosen, t);

            // GetValue gives an empty array, not null, for an array option that was not given.
            var given = parsed.GetResult(shape) is null ? null : parsed.GetValue(shape);
            var shapes = ResolveShapes(parsed.GetValue(model), parsed.GetValue(format)?.Value, given, names);
            var whitening = parsed.GetValue(noWhitening) ? Whitening.None : Whitening.KeyedMask;
            var created = names
                .Select(name => WatermarkKey.Create(name, shapes[name], t, parsed.GetValue(kind)!.Value, chosen, parsed.GetValue(strength), whitening, code: code))
                .ToList();

            // Appends lock the file (concurrent appends all land); a new file is created only if none
            // appeared meanwhile, so a racing keygen can never replace a key file without --force.
            var written = appending ? Keyring.Append(path, created) : new Keyring(created);
            if (!appending)
            {
                written.Save(path, overwrite: replacing);
            }

            foreach (var key in created)
            {
                console.Out.WriteLine($"slot {key}");
            }

            var total = written.Slots.Length;
            console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"wrote {path}: {total} slot{(total == 1 ? string.Empty : "s")} ({created.Count} new), owner-only permissions. Keep it secret and backed up."));
            return ExitCodes.Success;
        });
        return command;
    }

    // --ecc for this message and T: auto takes the strongest BCH code that fits (none for the all-ones message).
    private static BchCode? ResolveCode(CodeRequest ecc, Message message, int bits)
    {
        if (ecc.Mode == CodeMode.None || (ecc.Mode == CodeMode.Auto && message.Encoding == MessageEncoding.AllOnes))
        {
            return null;
        }

        if (message.Encoding == MessageEncoding.AllOnes)
        {
            throw new UsageException($"--ecc {ecc} needs a --message to protect; the all-ones message carries nothing to correct.");
        }

        if (ecc.Mode == CodeMode.Auto)
        {
            return BchCode.Choose(message.BitLength, bits)
                ?? throw new UsageException($"the message's {message.BitLength} bits leave no room in T = {bits} for an error-correcting code; use more --bits, a shorter --message, or --ecc none.");
        }

        if (ecc.MessageLength != message.BitLength)
        {
            throw new UsageException($"--ecc {ecc} carries K = {ecc.MessageLength} bits but the message has {message.BitLength} ({message.BitLength / 8} bytes); use bch:N,{message.BitLength} or --ecc auto.");
        }

        var code = BchCode.FromLengths(ecc.Length, ecc.MessageLength);
        return code.Length <= bits ? code
            : throw new UsageException($"--ecc {ecc} needs {code.Length} bits but the slot carries only {bits}; use more --bits, a shorter --message or a weaker code.");
    }

    private static Dictionary<string, long[]> ResolveShapes(string? modelPath, ModelFormat? format, long[]? shape, string[] names)
    {
        if ((modelPath is null) == (shape is null))
        {
            throw new UsageException("give either --model FILE (the shape is read from it) or --shape L,D,S,S, not both or neither.");
        }

        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        if (shape is not null)
        {
            if (names.Length != 1)
            {
                throw new UsageException("--shape gives one shape, so it goes with exactly one --param; use --model to make keys for several layers at once.");
            }

            shapes[names[0]] = shape;
            return shapes;
        }

        var file = ModelFile.Open(modelPath!, format);
        foreach (var name in names)
        {
            var entry = file.Find(name);
            if (!entry.DType.IsReal() || entry.Shape.Length is < 2 or > 5)
            {
                throw new UsageException($"'{name}' in '{modelPath}' is {entry}; a host weight is a float tensor of 2 (Linear) to 5 (Conv3d) dimensions.");
            }

            shapes[name] = [.. entry.Shape];
        }

        return shapes;
    }

    private static long[]? ParseShape(ArgumentResult result)
    {
        var text = result.Tokens[0].Value;
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var shape = new long[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!long.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out shape[i]) || shape[i] <= 0)
            {
                result.AddError($"--shape '{text}' is not a list of positive integers such as 64,64,3,3.");
                return null;
            }
        }

        if (shape.Length is < 2 or > 5)
        {
            result.AddError($"--shape '{text}' has {shape.Length} dimensions; a host weight has 2 (Linear) to 5 (Conv3d).");
            return null;
        }

        return shape;
    }

    private enum CodeMode
    {
        Auto,
        None,
        Bch,
    }

    // What --ecc asks for; a BCH code's lengths are checked against the message once it is known.
    private sealed record CodeRequest(CodeMode Mode, int Length = 0, int MessageLength = 0)
    {
        public static readonly CodeRequest Auto = new(CodeMode.Auto);

        public static CodeRequest? TryParse(string text)
        {
            switch (text)
            {
                case "auto":
                    return Auto;
                case "none":
                    return new(CodeMode.None);
            }

            var parts = text.StartsWith("bch:", StringComparison.Ordinal) ? text[4..].Split(',') : [];
            return parts.Length == 2
                && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var n)
                && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var k)
                && n > 0 && k > 0
                ? new(CodeMode.Bch, n, k)
                : null;
        }

        public override string ToString() => Mode switch
        {
            CodeMode.Auto => "auto",
            CodeMode.None => "none",
            _ => string.Create(CultureInfo.InvariantCulture, $"bch:{Length},{MessageLength}"),
        };
    }
}
