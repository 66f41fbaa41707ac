using System;
using System.Collections.Generic;
using System.CommandLine;
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
        var model = new Option<string?>("--model", "-m")
        {
            Description = "A model file to read each --param's shape from (TorchSharp .dat, safetensors or ONNX).",
            HelpName = "FILE",
        };
        var format = WatermarkCommand.FormatOption();
        var param = new Option<string[]>("--param", "-p")
        {
            Description = "The state_dict name of a host weight, e.g. g2.block0.conv2.weight. Repeat it to mark several layers, each with its own seed.",
            HelpName = "NAME",
            Required = true,
            Arity = ArgumentArity.OneOrMore,
        };
        var shape = new Option<string?>("--shape")
        {
            Description = "The host weight's shape instead of --model, e.g. 64,64,3,3 for a Conv2d [L, D, S, S]; needs exactly one --param.",
            HelpName = "L,D,S,S",
        };
        var bits = new Option<int>("--bits", "-t")
        {
            Description = "T, the number of embedded bits; must stay below M, the filter-mean length (the paper uses 256).",
            HelpName = "T",
            DefaultValueFactory = _ => 256,
        };
        var kind = new Option<string>("--kind")
        {
            Description = "How the secret projection X is built: random (N(0,1) entries, the paper's choice), direct or diff.",
            HelpName = "random|direct|diff",
            DefaultValueFactory = _ => "random",
        };
        kind.AcceptOnlyFromAmong("random", "direct", "diff");
        var message = new Option<string?>("--message")
        {
            Description = "The owner's message as text (UTF-8), repeated to fill T bits. Without it the paper's all-ones message is used.",
            HelpName = "TEXT",
        };
        var strength = new Option<double>("--strength")
        {
            Description = "λ, the weight of the embedding loss in training.",
            HelpName = "LAMBDA",
            DefaultValueFactory = _ => WatermarkKey.DefaultStrength,
        };
        var noWhitening = new Option<bool>("--no-whitening")
        {
            Description = "Embed the message bits as they are, as the paper's code does. By default they are XOR-ed with a key-derived mask, " +
                          "so that biased weights cannot fake a match and the p-value holds.",
        };
        var ecc = new Option<string>("--ecc")
        {
            Description = "The error-correcting code of --message, so that it reads back exactly after bit errors: auto (the strongest BCH code " +
                          "that fits T; the default), none (the message repeated and read back by a majority vote), or bch:N,K " +
                          "(a BCH code of N bits carrying K = 8 × the message's bytes). The verdict never depends on it.",
            HelpName = "auto|none|bch:N,K",
            DefaultValueFactory = _ => "auto",
        };
        ecc.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<string>();
            if (value is not ("auto" or "none") && !TryParseBch(value, out _, out _))
            {
                result.AddError($"--ecc '{value}' is not auto, none or bch:N,K (e.g. bch:252,160).");
            }
        });
        var output = new Option<string>("--out", "-o")
        {
            Description = "The key file to write (mode 0600). Keep it secret and backed up: without it no mark can be proven.",
            HelpName = "KEY.json",
            Required = true,
        };
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

            var shapes = ResolveShapes(parsed.GetValue(model), WatermarkCommand.ParseFormat(parsed.GetValue(format)), parsed.GetValue(shape), names);
            var text = parsed.GetValue(message);
            var chosen = text is null ? Message.AllOnes : text.Length == 0 ? throw new UsageException("--message must not be empty.") : Message.FromText(text);
            var kindValue = parsed.GetValue(kind) switch
            {
                "direct" => KeyKind.Direct,
                "diff" => KeyKind.Diff,
                _ => KeyKind.Random,
            };
            var whitening = parsed.GetValue(noWhitening) ? Whitening.None : Whitening.KeyedMask;
            var code = ResolveCode(parsed.GetValue(ecc)!, chosen, parsed.GetValue(bits));
            var created = new List<WatermarkKey>();
            foreach (var name in names)
            {
                if (created.Any(k => k.Parameter == name))
                {
                    throw new UsageException($"--param '{name}' is given twice; a key file holds one key per parameter.");
                }

                created.Add(WatermarkKey.Create(name, shapes[name], parsed.GetValue(bits), kindValue, chosen, parsed.GetValue(strength), whitening, code: code));
            }

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
    private static BchCode? ResolveCode(string ecc, Message message, int bits)
    {
        if (ecc == "none" || (ecc == "auto" && message.Encoding == MessageEncoding.AllOnes))
        {
            return null;
        }

        if (message.Encoding == MessageEncoding.AllOnes)
        {
            throw new UsageException($"--ecc {ecc} needs a --message to protect; the all-ones message carries nothing to correct.");
        }

        if (ecc == "auto")
        {
            return BchCode.Choose(message.BitLength, bits)
                ?? throw new UsageException($"the message's {message.BitLength} bits leave no room in T = {bits} for an error-correcting code; use more --bits, a shorter --message, or --ecc none.");
        }

        if (!TryParseBch(ecc, out var n, out var k))
        {
            throw new UsageException($"--ecc '{ecc}' is not auto, none or bch:N,K (e.g. bch:252,160).");
        }

        if (k != message.BitLength)
        {
            throw new UsageException($"--ecc {ecc} carries K = {k} bits but the message has {message.BitLength} ({message.BitLength / 8} bytes); use bch:N,{message.BitLength} or --ecc auto.");
        }

        return BchCode.FromLengths(n, k);
    }

    private static bool TryParseBch(string? text, out int n, out int k)
    {
        n = k = 0;
        if (text is null || !text.StartsWith("bch:", StringComparison.Ordinal))
        {
            return false;
        }

        var parts = text[4..].Split(',');
        return parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out n)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out k)
            && n > 0 && k > 0;
    }

    private static Dictionary<string, long[]> ResolveShapes(string? modelPath, ModelFormat? format, string? shapeText, string[] names)
    {
        if ((modelPath is null) == (shapeText is null))
        {
            throw new UsageException("give either --model FILE (the shape is read from it) or --shape L,D,S,S, not both or neither.");
        }

        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        if (shapeText is not null)
        {
            if (names.Length != 1)
            {
                throw new UsageException("--shape gives one shape, so it goes with exactly one --param; use --model to make keys for several layers at once.");
            }

            shapes[names[0]] = ParseShape(shapeText);
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

    internal static long[] ParseShape(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var shape = new long[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!long.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out shape[i]) || shape[i] <= 0)
            {
                throw new UsageException($"--shape '{text}' is not a list of positive integers such as 64,64,3,3.");
            }
        }

        if (shape.Length is < 2 or > 5)
        {
            throw new UsageException($"--shape '{text}' has {shape.Length} dimensions; a host weight has 2 (Linear) to 5 (Conv3d).");
        }

        return shape;
    }
}
