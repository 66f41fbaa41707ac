using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Globalization;
using System.Linq;
using Watermark.Attacks;
using Watermark.Formats;

namespace Watermark.Cli;

/// <summary>
/// <c>watermark attack prune|quantize|noise|permute|rescale|shift|outputs|clique|split</c>: writes a copy of a model with
/// one weight attacked (or, for the function-preserving transforms, the tensors they must change together), in the
/// input's format and otherwise byte for byte the same (clique and split rewrite the file with the new widths),
/// so owners can test how robust their mark is.
/// </summary>
internal static class AttackVerb
{
    // The tensors of a batch norm that carry its channels, after its state_dict prefix.
    private static readonly string[] NormParts = ["weight", "bias", "running_mean", "running_var"];

    public static Command Create(CliConsole console) => new("attack", "Writes an attacked copy of a model (same format, atomically) to test a mark's robustness: prune, quantize, noise, permute, rescale, shift, outputs, clique or split.")
    {
        Prune(console),
        Quantize(console),
        Noise(console),
        Permute(console),
        Rescale(console),
        Shift(console),
        Outputs(console),
        DummyChannels(console, clique: true),
        DummyChannels(console, clique: false),
    };

    private static Command Prune(CliConsole console)
    {
        var rate = TypedOptions.Real(
            "--rate",
            "The fraction of the weight's entries to set to zero, in [0, 1] (0.65 = 65%).",
            "P",
            r => r >= 0 && r <= 1,
            "must lie in [0, 1] (0.65 prunes 65%)");
        var order = TypedOptions.OneOf<PruningOrder>(
            "--order",
            "Which entries go first: ascending (smallest |w|, the paper's attack), descending (largest |w|) or random.",
            "ascending",
            new("ascending", PruningOrder.Ascending),
            new("descending", PruningOrder.Descending),
            new("random", PruningOrder.Random));
        var seed = SeedOption();
        return Build(console, "prune", "Zeroes a fraction of one weight's entries (parameter pruning, Uchida et al. §4.3).", [rate, order, seed], (parsed, weights, entry) =>
        {
            var fraction = parsed.GetValue(rate);
            var chosen = parsed.GetValue(order)!;
            var zeroed = Pruning.Prune(weights, fraction, chosen.Value, parsed.GetValue(seed));
            return string.Create(CultureInfo.InvariantCulture, $"pruned {zeroed} of {weights.Length} entries ({fraction:0.###%}, {chosen.Word}) of '{entry.Name}'");
        });
    }

    private static Command Quantize(CliConsole console)
    {
        var bits = TypedOptions.Integer(
            "--bits",
            [],
            "Bits per weight, 2 to 16 (8 = int8): symmetric uniform levels round(w/s)·s with s = max|w| / (2^(k-1) - 1).",
            "K",
            2,
            16,
            "must lie in 2..16 (8 = int8)",
            8);
        var perChannel = new Option<bool>("--per-channel") { Description = "One scale per output channel (axis 0) instead of one for the whole tensor." };
        return Build(console, "quantize", "Rounds one weight to k-bit levels (int8 by default), per tensor or per output channel.", [bits, perChannel], (parsed, weights, entry) =>
        {
            var k = parsed.GetValue(bits);
            Quantization.Quantize(weights, entry.Shape, k, parsed.GetValue(perChannel));
            return $"quantized '{entry.Name}' to {k} bits {(parsed.GetValue(perChannel) ? "per output channel" : "per tensor")}";
        });
    }

    private static Command Noise(CliConsole console)
    {
        var sigma = TypedOptions.Real(
            "--sigma",
            "The noise's standard deviation as a multiple of the weight's own standard deviation, e.g. 0.1.",
            "S",
            s => s >= 0 && double.IsFinite(s),
            "must be a non-negative number such as 0.1");
        var seed = SeedOption();
        return Build(console, "noise", "Adds Gaussian noise to one weight, scaled to its standard deviation.", [sigma, seed], (parsed, weights, entry) =>
        {
            var relative = parsed.GetValue(sigma);
            var absolute = GaussianNoise.Add(weights, relative, parsed.GetValue(seed));
            return string.Create(CultureInfo.InvariantCulture, $"added Gaussian noise σ = {relative} × std = {absolute:0.####e0} to '{entry.Name}'");
        });
    }

    private static Command Shift(CliConsole console)
    {
        var amount = TypedOptions.Real(
            "--shift",
            "s in W ← W − s·mean₀(W) + N(0, std(W)²): the multiple of the filter mean taken from every filter (the toolbox uses 1.5).",
            "S",
            s => s >= 0 && double.IsFinite(s),
            "must be a non-negative number such as 1.5",
            WeightShifting.DefaultShift);
        var seed = SeedOption();
        return Build(console, "shift", "Weight shifting (Watermark-Robustness-Toolbox): subtracts s times the filter mean from every filter and adds Gaussian noise of the weight's own std; the function changes (the toolbox fine-tunes after it).", [amount, seed], (parsed, weights, entry) =>
        {
            var s = parsed.GetValue(amount);
            if (entry.Shape.Length < 2)
            {
                throw new UsageException($"'{entry.Name}' of shape {Capacity.ShapeText(entry.Shape)} has no filters to average over; weight shifting needs a weight of 2 or more dimensions.");
            }

            var sigma = WeightShifting.Apply(weights, entry.Shape, s, parsed.GetValue(seed));
            return string.Create(CultureInfo.InvariantCulture, $"shifted '{entry.Name}' by {s} × its filter mean and added noise σ = {sigma:0.####e0}");
        });
    }

    private static Command Permute(CliConsole console)
    {
        var model = WatermarkCommand.ModelOption("The model file to attack: TorchSharp .dat, safetensors or ONNX, in one file (convert a sharded or external-data model first).");
        var format = WatermarkCommand.FormatOption();
        var param = ParamOption("The weight whose channels are reordered, e.g. conv1.weight.");
        var axis = AxisOption("The axis to reorder: 0 = output channels (filters), 1 = input channels.", 0);
        var also = CompanionOption("--also", "Another tensor to reorder with the same permutation, as NAME:AXIS (e.g. conv1.bias:0, conv2.weight:1), so the network computes the same function.");
        var seed = SeedOption();
        var output = OutputOption();
        var force = WatermarkCommand.ForceOption();
        var command = new Command(
            "permute",
            "Reorders the channels of one weight, and of the tensors named by --also, with one random permutation. " +
            "Reordering a layer's outputs and the next layer's inputs together keeps the network's function.")
        {
            model, format, param, axis, also, seed, output, force,
        };
        command.SetGuardedAction(console, parsed =>
        {
            var path = parsed.GetValue(output)!;
            WatermarkCommand.CheckOutput(path, parsed.GetValue(force));
            var (file, targets, channels) = ChannelTargets(parsed, model, format, param, axis, also, "reorder");
            var permutation = ChannelPermutation.Random(channels, parsed.GetValue(seed));
            var replaced = targets.Select(t => (t.Entry, ChannelPermutation.Apply(file.ReadFloat32(t.Entry), t.Entry.Shape, t.Axis, permutation))).ToList();
            file.WriteWithReplaced(path, replaced, replace: parsed.GetValue(force));
            console.Out.WriteLine($"reordered {channels} channels of {string.Join(", ", targets.Select(t => $"'{t.Entry.Name}' (axis {t.Axis})"))}; wrote {path} ({ModelFile.FormatName(file.Format)})");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Rescale(CliConsole console)
    {
        var model = WatermarkCommand.ModelOption("The model file to attack: TorchSharp .dat, safetensors or ONNX, in one file (convert a sharded or external-data model first).");
        var format = WatermarkCommand.FormatOption();
        var param = ParamOption("The weight whose channels are multiplied by α_d, e.g. the host's conv2.weight.");
        var axis = AxisOption("The axis of --param to scale: 1 = input channels (the host's, default), 0 = output channels.", 1);
        var divide = CompanionOption("--divide", "A tensor whose channels are divided by the same α_d, as NAME:AXIS: what produces those channels in front of the ReLU, e.g. bn2.weight:0 and bn2.bias:0 (or conv1.weight:0 and conv1.bias:0 without a batch norm).");
        var range = TypedOptions.Real(
            "--range",
            "The factors are log-uniform in [1/R, R]: 2 is a mild rescaling, 20 a wild one.",
            "R",
            r => r >= 1 && double.IsFinite(r),
            "must be a finite number ≥ 1 (the factors lie in [1/R, R], e.g. 2)",
            2);
        var seed = SeedOption();
        var output = OutputOption();
        var force = WatermarkCommand.ForceOption();
        var command = new Command(
            "rescale",
            "Multiplies the channels of one weight by random positive factors α_d and divides the tensors named by --divide by them. " +
            "Since ReLU(x/α) = ReLU(x)/α, doing this across a ReLU keeps the network's function.")
        {
            model, format, param, axis, divide, range, seed, output, force,
        };
        command.SetGuardedAction(console, parsed =>
        {
            var path = parsed.GetValue(output)!;
            WatermarkCommand.CheckOutput(path, parsed.GetValue(force));
            if (parsed.GetValue(divide) is not { Length: > 0 })
            {
                throw new UsageException("rescale needs at least one --divide NAME:AXIS (what feeds the ReLU in front of --param's channels, e.g. bn2.weight:0 and bn2.bias:0); without it the network's function changes too.");
            }

            var (file, targets, channels) = ChannelTargets(parsed, model, format, param, axis, divide, "rescale");
            var factors = ChannelScaling.Random(channels, parsed.GetValue(range), parsed.GetValue(seed));
            var replaced = targets.Select((t, i) =>
            {
                var values = file.ReadFloat32(t.Entry);
                ChannelScaling.Apply(values, t.Entry.Shape, t.Axis, factors, divide: i > 0);
                return (t.Entry, values);
            }).ToList();
            file.WriteWithReplaced(path, replaced, replace: parsed.GetValue(force));
            console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rescaled {channels} channels by factors in [{factors.Min():0.###}, {factors.Max():0.###}]: multiplied '{targets[0].Entry.Name}' (axis {targets[0].Axis}){string.Concat(targets.Skip(1).Select(t => $", divided '{t.Entry.Name}' (axis {t.Axis})"))}; wrote {path} ({ModelFile.FormatName(file.Format)})"));
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Outputs(CliConsole console)
    {
        var model = WatermarkCommand.ModelOption("The model file to attack: TorchSharp .dat, safetensors or ONNX, in one file (convert a sharded or external-data model first).");
        var format = WatermarkCommand.FormatOption();
        var param = ParamOption("The weight whose output filters (axis 0) are transformed, e.g. the host's conv2.weight; its .bias, if the file has one, goes with it.");
        var norm = NormOption("The batch norm right after --param (state_dict prefix, e.g. bn2): its running statistics absorb the scales, its weight and running mean the signs.", required: true);
        var next = CompanionOption("--next", "With --permute: a tensor that reads the batch norm's output channels, as NAME:AXIS (e.g. conv3.weight:1), reordered with them.");
        var permute = new Option<bool>("--permute") { Description = "Reorder the filters (with the batch norm and every --next tensor); the filter mean ignores their order." };
        var scale = TypedOptions.Real(
            "--scale",
            "Multiply filter o by a_o log-uniform in [1/R, R] (absorbed by the running statistics: mean × a, variance a²(σ² + ε) − ε); 1 leaves the scales.",
            "R",
            r => r >= 1 && double.IsFinite(r),
            "must be a finite number ≥ 1 (the factors lie in [1/R, R], e.g. 20)",
            1);
        var flip = TypedOptions.Real(
            "--flip",
            "The fraction of filters to negate (absorbed by the batch norm's weight and running mean), in [0, 1].",
            "P",
            f => f >= 0 && f <= 1,
            "must lie in [0, 1] (0.5 flips half the filters)",
            0);
        var epsilon = TypedOptions.Real(
            "--eps",
            "The batch norm's ε (not saved with the weights; PyTorch's and TorchSharp's default is 1e-5).",
            "E",
            e => e >= 0 && double.IsFinite(e),
            "must be a small non-negative number such as 1e-5",
            BatchNormAbsorption.DefaultEpsilon);
        var seed = SeedOption();
        var output = OutputOption();
        var force = WatermarkCommand.ForceOption();
        var command = new Command(
            "outputs",
            "Transforms the output filters of one conv that a batch norm follows, keeping the network's function: positive scales (--scale R) and sign flips (--flip P) " +
            "absorbed by the batch norm, and a reordering (--permute) carried through the batch norm to the --next layer.")
        {
            model, format, param, norm, next, permute, scale, flip, epsilon, seed, output, force,
        };
        command.SetGuardedAction(console, parsed =>
        {
            var path = parsed.GetValue(output)!;
            WatermarkCommand.CheckOutput(path, parsed.GetValue(force));
            var (range, fraction, reorder) = (parsed.GetValue(scale), parsed.GetValue(flip), parsed.GetValue(permute));
            var following = parsed.GetValue(next) ?? [];
            if (range == 1 && fraction == 0 && !reorder)
            {
                throw new UsageException("outputs needs --scale R (> 1), --flip P (> 0) or --permute; without one it would change nothing.");
            }

            if (reorder && following.Length == 0)
            {
                throw new UsageException("--permute needs at least one --next NAME:AXIS (what reads the batch norm's output channels, e.g. conv3.weight:1); without it the network's function changes.");
            }

            if (!reorder && following.Length > 0)
            {
                throw new UsageException("--next is only used with --permute (scales and signs stop at the batch norm).");
            }

            var file = WatermarkCommand.OpenModel(parsed, model, format);
            var weight = file.Find(parsed.GetValue(param)!);
            var layer = new List<(TensorEntry Entry, int Axis)> { (weight, 0) };
            if (BiasOf(file, weight) is { } bias)
            {
                layer.Add((bias, 0));
            }

            var prefix = parsed.GetValue(norm)!;
            var bn = NormParts.Select(n => (Entry: file.Find($"{prefix}.{n}", $"--norm names the batch norm's prefix, e.g. bn2 for bn2.{n}."), Axis: 0)).ToList();
            var channels = Check([.. layer, .. bn, .. following.Select(f => (file.Find(f.Name), f.Axis))], weight, 0, "transform");
            var values = new Dictionary<string, float[]>(StringComparer.Ordinal);
            float[] Values(TensorEntry e) => values.TryGetValue(e.Name, out var v) ? v : values[e.Name] = file.ReadFloat32(e);
            var (gamma, mean, variance) = (Values(bn[0].Entry), Values(bn[2].Entry), Values(bn[3].Entry));
            var done = new List<string>();
            var random = new Random(parsed.GetValue(seed));
            if (range > 1)
            {
                var factors = BatchNormAbsorption.Feasible(ChannelScaling.Random(channels, range, random.Next()), variance, parsed.GetValue(epsilon));
                foreach (var (entry, _) in layer)
                {
                    ChannelScaling.Apply(Values(entry), entry.Shape, 0, factors);
                }

                BatchNormAbsorption.AbsorbScale(mean, variance, factors, parsed.GetValue(epsilon));
                done.Add(string.Create(CultureInfo.InvariantCulture, $"scaled {channels} filters by factors in [{factors.Min():0.###}, {factors.Max():0.###}]"));
            }

            if (fraction > 0)
            {
                var flipped = SignFlip.Random(channels, fraction, random.Next());
                foreach (var (entry, _) in layer)
                {
                    SignFlip.Apply(Values(entry), entry.Shape, 0, flipped);
                }

                BatchNormAbsorption.AbsorbFlip(gamma, mean, flipped);
                done.Add($"flipped the sign of {flipped.Count(f => f)} of {channels} filters");
            }

            var changed = layer.Concat(bn).ToList();
            if (reorder)
            {
                var permutation = ChannelPermutation.Random(channels, random.Next());
                changed.AddRange(following.Select(f => (file.Find(f.Name), f.Axis)));
                foreach (var (entry, axis) in changed)
                {
                    values[entry.Name] = ChannelPermutation.Apply(Values(entry), entry.Shape, axis, permutation);
                }

                done.Add($"reordered {channels} filters");
            }

            var replaced = changed.Where(c => values.ContainsKey(c.Entry.Name)).Select(c => (c.Entry, values[c.Entry.Name])).ToList();
            file.WriteWithReplaced(path, replaced, replace: parsed.GetValue(force));
            console.Out.WriteLine($"{string.Join(", ", done)} of '{weight.Name}', absorbed by '{prefix}'{(reorder ? $" and {string.Join(", ", following.Select(f => $"'{f.Name}' (axis {f.Axis})"))}" : string.Empty)}; wrote {path} ({ModelFile.FormatName(file.Format)})");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command DummyChannels(CliConsole console, bool clique)
    {
        var model = WatermarkCommand.ModelOption("The model file to attack: TorchSharp .dat or safetensors, in one file (an ONNX graph would need its nodes changed, a sharded model its shards; convert it first).");
        var format = WatermarkCommand.FormatOption();
        var param = ParamOption("The host weight that reads the channels on axis 1, e.g. conv2.weight: it gets the new input channels.");
        var producer = new Option<string>("--producer")
        {
            Description = "The conv that makes the host's input channels (state_dict prefix, e.g. conv1): its .weight and .bias (if any) get the new filters on axis 0. Its channels must feed only the host.",
            HelpName = "NAME",
            Required = true,
        };
        var norm = NormOption("The batch norm between the producer and the host (prefix, e.g. bn1, or bn2 in a pre-activation WRN block): its weight, bias and running statistics are copied for the new channels.", required: false);
        var also = CompanionOption("--also", "Another tensor that carries the producer's channels, as NAME:AXIS, widened the same way.");
        var count = TypedOptions.Integer(
            "--count",
            [],
            clique ? "How many channels to add: groups of 2 (one of 3 for an odd count) whose host slices cancel." : "How many distinct channels to split in two.",
            "N",
            clique ? 2 : 1,
            1 << 20,
            clique ? "must be a whole number ≥ 2 (a clique's slices cancel in pairs)" : "must be a whole number ≥ 1",
            clique ? 2 : 1);
        var seed = SeedOption();
        var output = OutputOption();
        var force = WatermarkCommand.ForceOption();
        var command = new Command(
            clique ? "clique" : "split",
            clique
                ? "NeuronClique (Yan et al. 2023): adds channels to the producer (copies of random ones, with their batch-norm parameters) whose host slices sum to zero, so the host's input width and M change but the function stays."
                : "NeuronSplit (Yan et al. 2023): copies producer channels (with their batch-norm parameters) and splits each one's host slice V into λV and V − λV, so the host's input width and M change but the function stays.")
        {
            model, format, param, producer, norm, also, count, seed, output, force,
        };
        command.SetGuardedAction(console, parsed =>
        {
            var path = parsed.GetValue(output)!;
            WatermarkCommand.CheckOutput(path, parsed.GetValue(force));
            var file = WatermarkCommand.OpenModel(parsed, model, format);
            if (file.Format == ModelFormat.Onnx)
            {
                throw new UsageException($"'{file.Source}' is ONNX: adding channels changes tensor shapes, which its graph's nodes would have to follow. Convert it to .safetensors or .dat first (watermark convert), then attack that.");
            }

            var host = file.Find(parsed.GetValue(param)!);
            if (host.Shape.Length < 2)
            {
                throw new UsageException($"'{host.Name}' of shape {Capacity.ShapeText(host.Shape)} has no input channels (axis 1) to add to.");
            }

            var prefix = parsed.GetValue(producer)!;
            prefix = prefix.EndsWith(".weight", StringComparison.Ordinal) && file.Tensors.All(t => t.Name != prefix + ".weight") ? prefix[..^".weight".Length] : prefix;
            var conv = file.Find($"{prefix}.weight", "--producer names the conv's prefix, e.g. conv1 for conv1.weight.");
            var carriers = new List<(TensorEntry Entry, int Axis)> { (conv, 0) };
            if (BiasOf(file, conv) is { } bias)
            {
                carriers.Add((bias, 0));
            }

            if (parsed.GetValue(norm) is { } bn)
            {
                var found = NormParts.Select(n => file.Tensors.FirstOrDefault(t => t.Name == $"{bn}.{n}")).OfType<TensorEntry>().ToList();
                if (found.Count == 0)
                {
                    file.Find($"{bn}.running_mean", "--norm names the batch norm's prefix, e.g. bn1 for bn1.running_mean.");
                }

                carriers.AddRange(found.Select(e => (e, 0)));
            }

            carriers.AddRange((parsed.GetValue(also) ?? []).Select(a => (file.Find(a.Name), a.Axis)));
            var channels = Check([(host, 1), .. carriers], host, 1, clique ? "widen" : "split");
            var n = parsed.GetValue(count);
            if (!clique && n > channels)
            {
                throw new UsageException($"--count {n} is more than the {channels} channels '{host.Name}' reads; split at most {channels}.");
            }

            var result = Watermark.Attacks.DummyNeurons.Write(file, carriers, host, clique, n, parsed.GetValue(seed), path, replace: parsed.GetValue(force));
            var what = clique ? $"added {result.Added.Count} cancelling channels" : $"split {n} channels in two";
            console.Out.WriteLine($"{what} between '{prefix}' and '{host.Name}' (now {Capacity.ShapeText(result.Host.Shape)}, M = {result.Host.Values.Length / host.Shape[0]}; new channels at {string.Join(", ", result.Added)}); widened {string.Join(", ", carriers.Select(c => $"'{c.Entry.Name}'"))}; wrote {path} ({ModelFile.FormatName(file.Format)})");
            return ExitCodes.Success;
        });
        return command;
    }

    // The bias that goes with a weight named PREFIX.weight, if the file has one.
    private static TensorEntry? BiasOf(ModelFile file, TensorEntry weight) =>
        weight.Name.EndsWith(".weight", StringComparison.Ordinal)
            ? file.Tensors.FirstOrDefault(t => t.Name == weight.Name[..^".weight".Length] + ".bias")
            : null;

    // Every tensor must hold values and carry as many channels on its axis as the first's axis; returns that count.
    private static int Check(IReadOnlyList<(TensorEntry Entry, int Axis)> targets, TensorEntry first, int firstAxis, string verb)
    {
        if (firstAxis >= first.Shape.Length)
        {
            throw new UsageException($"'{first.Name}' of shape {Capacity.ShapeText(first.Shape)} has no axis {firstAxis} of channels to {verb}.");
        }

        var channels = first.Shape[firstAxis];
        foreach (var (entry, axis) in targets)
        {
            if (axis < 0 || axis >= entry.Shape.Length || entry.Shape[axis] != channels)
            {
                throw new UsageException($"'{entry.Name}' of shape {Capacity.ShapeText(entry.Shape)} has no axis {axis} of {channels} channels to {verb} with '{first.Name}'.");
            }

            RequireValues(entry, verb);
        }

        return (int)channels;
    }

    private static Option<string> NormOption(string description, bool required) => new("--norm")
    {
        Description = description,
        HelpName = "NAME",
        Required = required,
    };

    // The tensors a channel transform changes together: --param on --axis, then each NAME:AXIS of
    // --also / --divide; checked to share --param's channel count, which is returned with them.
    private static (ModelFile File, List<(TensorEntry Entry, int Axis)> Targets, int Channels) ChannelTargets(
        ParseResult parsed, Option<string> model, Option<Choice<ModelFormat>> format, Option<string> param, Option<int> axis, Option<ChannelRef[]> companions, string verb)
    {
        var file = WatermarkCommand.OpenModel(parsed, model, format);
        var targets = new List<(TensorEntry Entry, int Axis)> { (file.Find(parsed.GetValue(param)!), parsed.GetValue(axis)) };
        foreach (var (name, itemAxis) in parsed.GetValue(companions) ?? [])
        {
            targets.Add((file.Find(name), itemAxis));
        }

        var first = targets[0];
        if (first.Axis < 0 || first.Axis >= first.Entry.Shape.Length)
        {
            throw new UsageException($"--axis {first.Axis} does not exist in '{first.Entry.Name}' of shape {Capacity.ShapeText(first.Entry.Shape)}.");
        }

        var channels = first.Entry.Shape[first.Axis];
        foreach (var (entry, itemAxis) in targets)
        {
            if (itemAxis < 0 || itemAxis >= entry.Shape.Length || entry.Shape[itemAxis] != channels)
            {
                throw new UsageException($"'{entry.Name}' of shape {Capacity.ShapeText(entry.Shape)} has no axis {itemAxis} of {channels} channels to {verb} with '{first.Entry.Name}'.");
            }

            RequireValues(entry, verb);
        }

        // Every target holds values, so the channel count is bounded by what the file really stores.
        return (file, targets, (int)channels);
    }

    // A tensor of no values (a zero in its shape) has nothing to attack, whatever channel counts its header
    // claims; and one too large for an array cannot be read in one piece.
    private static void RequireValues(TensorEntry entry, string verb)
    {
        if (entry.ElementCount == 0)
        {
            throw new UsageException($"'{entry.Name}' of shape {Capacity.ShapeText(entry.Shape)} holds no values; there is nothing to {verb}.");
        }

        if (entry.ElementCount > Array.MaxLength)
        {
            throw new UsageException($"'{entry.Name}' has {entry.ElementCount} values, more than one array holds; it cannot be attacked in one piece.");
        }
    }

    private static Option<int> AxisOption(string description, int defaultAxis) =>
        TypedOptions.Integer("--axis", [], description, "0|1", 0, int.MaxValue, "must be an axis number, 0 or more", defaultAxis);

    private static Option<ChannelRef[]> CompanionOption(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "NAME:AXIS",
        Arity = ArgumentArity.ZeroOrMore,
        CustomParser = result =>
        {
            var companions = new ChannelRef[result.Tokens.Count];
            for (var i = 0; i < companions.Length; i++)
            {
                var item = result.Tokens[i].Value;
                var colon = item.LastIndexOf(':');
                if (colon <= 0 || !int.TryParse(item.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var axis))
                {
                    result.AddError($"{name} '{item}' is not NAME:AXIS, e.g. conv2.weight:1.");
                    return null;
                }

                companions[i] = new ChannelRef(item[..colon], axis);
            }

            return companions;
        },
    };

    private static Option<string> ParamOption(string description) => new("--param", "-p")
    {
        Description = description,
        HelpName = "NAME",
        Required = true,
    };

    private static Option<string> OutputOption() => TypedOptions.FilePath(
        "--out",
        ["-o"],
        "Where to write the attacked copy (same format as the input). An existing file, the input itself included, is replaced only with --force (atomically, keeping its permissions).",
        "FILE");

    private static Option<int> SeedOption() =>
        TypedOptions.Integer("--seed", [], "Seed of the attack's randomness, so a run can be repeated.", "N", int.MinValue, int.MaxValue, "must be a whole number such as 1", 0);

    private static Command Build(CliConsole console, string name, string description, Option[] options, Func<ParseResult, float[], TensorEntry, string> attack)
    {
        var model = WatermarkCommand.ModelOption("The model file to attack: TorchSharp .dat, safetensors or ONNX, in one file (convert a sharded or external-data model first).");
        var format = WatermarkCommand.FormatOption();
        var param = ParamOption("The state_dict name of the weight to attack, e.g. conv2.weight.");
        var output = OutputOption();
        var force = WatermarkCommand.ForceOption();
        var command = new Command(name, description) { model, format, param };
        foreach (var option in options)
        {
            command.Options.Add(option);
        }

        command.Options.Add(output);
        command.Options.Add(force);
        command.SetGuardedAction(console, parsed =>
        {
            var path = parsed.GetValue(output)!;
            WatermarkCommand.CheckOutput(path, parsed.GetValue(force));
            var file = WatermarkCommand.OpenModel(parsed, model, format);
            var entry = file.Find(parsed.GetValue(param)!);
            RequireValues(entry, name);
            var weights = file.ReadFloat32(entry);
            var summary = attack(parsed, weights, entry);
            file.WriteWithReplaced(path, entry, weights, replace: parsed.GetValue(force));
            console.Out.WriteLine($"{summary}; wrote {path} ({ModelFile.FormatName(file.Format)})");
            return ExitCodes.Success;
        });
        return command;
    }
}

/// <summary>A tensor that a channel transform changes together with the attacked one, and the axis of its channels (--also, --divide).</summary>
internal readonly record struct ChannelRef(string Name, int Axis);
