using System;
using System.CommandLine;
using System.Globalization;
using Watermark.Attacks;
using Watermark.Formats;

namespace Watermark.Cli;

/// <summary>
/// <c>watermark attack prune|quantize|noise</c>: writes a copy of a model with one weight attacked, in
/// the input's format and otherwise byte for byte the same, so owners can test how robust their mark is.
/// </summary>
internal static class AttackVerb
{
    public static Command Create(CliConsole console) => new("attack", "Writes an attacked copy of a model (same format, atomically) to test a mark's robustness.")
    {
        Prune(console),
        Quantize(console),
        Noise(console),
    };

    private static Command Prune(CliConsole console)
    {
        var rate = new Option<double>("--rate")
        {
            Description = "The fraction of the weight's entries to set to zero, in [0, 1] (0.65 = 65%).",
            HelpName = "P",
            Required = true,
        };
        var order = new Option<string>("--order")
        {
            Description = "Which entries go first: ascending (smallest |w|, the paper's attack), descending (largest |w|) or random.",
            HelpName = "ascending|descending|random",
            DefaultValueFactory = _ => "ascending",
        };
        order.AcceptOnlyFromAmong("ascending", "descending", "random");
        var seed = SeedOption();
        return Build(console, "prune", "Zeroes a fraction of one weight's entries (parameter pruning, Uchida et al. §4.3).", [rate, order, seed], (parsed, weights, entry) =>
        {
            var chosen = parsed.GetValue(order) switch
            {
                "descending" => PruningOrder.Descending,
                "random" => PruningOrder.Random,
                _ => PruningOrder.Ascending,
            };
            var fraction = parsed.GetValue(rate);
            if (!(fraction >= 0 && fraction <= 1))
            {
                throw new UsageException($"--rate must lie in [0, 1] (0.65 prunes 65%); {fraction.ToString(CultureInfo.InvariantCulture)} was given.");
            }

            var zeroed = Pruning.Prune(weights, fraction, chosen, parsed.GetValue(seed));
            return string.Create(CultureInfo.InvariantCulture, $"pruned {zeroed} of {weights.Length} entries ({fraction:0.###%}, {parsed.GetValue(order)}) of '{entry.Name}'");
        });
    }

    private static Command Quantize(CliConsole console)
    {
        var bits = new Option<int>("--bits")
        {
            Description = "Bits per weight, 2 to 16 (8 = int8): symmetric uniform levels round(w/s)·s with s = max|w| / (2^(k-1) - 1).",
            HelpName = "K",
            DefaultValueFactory = _ => 8,
        };
        var perChannel = new Option<bool>("--per-channel") { Description = "One scale per output channel (axis 0) instead of one for the whole tensor." };
        return Build(console, "quantize", "Rounds one weight to k-bit levels (int8 by default), per tensor or per output channel.", [bits, perChannel], (parsed, weights, entry) =>
        {
            var k = parsed.GetValue(bits);
            if (k is < 2 or > 16)
            {
                throw new UsageException($"--bits must lie in 2..16 (8 = int8); {k} was given.");
            }

            Quantization.Quantize(weights, entry.Shape, k, parsed.GetValue(perChannel));
            return $"quantized '{entry.Name}' to {k} bits {(parsed.GetValue(perChannel) ? "per output channel" : "per tensor")}";
        });
    }

    private static Command Noise(CliConsole console)
    {
        var sigma = new Option<double>("--sigma")
        {
            Description = "The noise's standard deviation as a multiple of the weight's own standard deviation, e.g. 0.1.",
            HelpName = "S",
            Required = true,
        };
        var seed = SeedOption();
        return Build(console, "noise", "Adds Gaussian noise to one weight, scaled to its standard deviation.", [sigma, seed], (parsed, weights, entry) =>
        {
            var relative = parsed.GetValue(sigma);
            if (!(relative >= 0 && double.IsFinite(relative)))
            {
                throw new UsageException($"--sigma must be a non-negative number such as 0.1; {relative.ToString(CultureInfo.InvariantCulture)} was given.");
            }

            var absolute = GaussianNoise.Add(weights, relative, parsed.GetValue(seed));
            return string.Create(CultureInfo.InvariantCulture, $"added Gaussian noise σ = {relative} × std = {absolute:0.####e0} to '{entry.Name}'");
        });
    }

    private static Option<int> SeedOption() => new("--seed")
    {
        Description = "Seed of the attack's randomness, so a run can be repeated.",
        HelpName = "N",
        DefaultValueFactory = _ => 0,
    };

    private static Command Build(CliConsole console, string name, string description, Option[] options, Func<ParseResult, float[], TensorEntry, string> attack)
    {
        var model = WatermarkCommand.ModelOption("The model file to attack: TorchSharp .dat, safetensors or ONNX.");
        var format = WatermarkCommand.FormatOption();
        var param = new Option<string>("--param", "-p")
        {
            Description = "The state_dict name of the weight to attack, e.g. conv2.weight.",
            HelpName = "NAME",
            Required = true,
        };
        var output = new Option<string>("--out", "-o")
        {
            Description = "Where to write the attacked copy (same format as the input; may be the input itself, replaced atomically).",
            HelpName = "FILE",
            Required = true,
        };
        var command = new Command(name, description) { model, format, param };
        foreach (var option in options)
        {
            command.Options.Add(option);
        }

        command.Options.Add(output);
        command.SetGuardedAction(console, parsed =>
        {
            var file = WatermarkCommand.OpenModel(parsed, model, format);
            var entry = file.Find(parsed.GetValue(param)!);
            var weights = file.ReadFloat32(entry);
            var summary = attack(parsed, weights, entry);
            var path = parsed.GetValue(output)!;
            file.WriteWithReplaced(path, entry, weights);
            console.Out.WriteLine($"{summary}; wrote {path} ({ModelFile.FormatName(file.Format)})");
            return ExitCodes.Present;
        });
        return command;
    }
}
