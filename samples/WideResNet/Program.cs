using System;
using WideResNet;
using WideResNet.Experiments;

// The WideResNet sample: the paper's experiments as commands.
var verb = args.Length > 0 ? args[0] : "help";
switch (verb)
{
    case "demo":
        return Demo.Run(args[1..]);
    case var name when Array.IndexOf(Experiment.Names, name) >= 0:
        return Experiment.Run(name, args[1..]);
    case "speed":
        return Speed.Run(args[1..]);
    case "report":
        return Experiment.WriteReport(args[1..]);
    case "help" or "--help" or "-h":
        Console.WriteLine("usage: dotnet run --project samples/WideResNet -c Release -- <command> [options]");
        Console.WriteLine();
        Console.WriteLine("commands:");
        Console.WriteLine("  demo [--out DIR]    train WRN-10-2 with and without a 256-bit mark on the committed CIFAR-10 subset,");
        Console.WriteLine("                      verify it, prune the host layer by 65% and verify again (offline, ~3 min)");
        Console.WriteLine("  table4              train-to-embed: not embedded (2 seeds) / direct / diff / random key (Fig. 1-3)");
        Console.WriteLine("  table5a             fine-tune-to-embed CIFAR-10 -> CIFAR-10 (Fig. 4)");
        Console.WriteLine("  table5b             fine-tune-to-embed Caltech-101 -> CIFAR-10, new classifier (Fig. 4)");
        Console.WriteLine("  table5c             distill-to-embed: soft targets of the trained network, no labels");
        Console.WriteLine("  table7              embedding without training (Eq. 6), lambda = 0, 1, 10, 100");
        Console.WriteLine("  diffkey             the diff key with and without weight decay on the host, against the key analysis");
        Console.WriteLine("  schedule            the cost of the mark at the preset's length and at twice it");
        Console.WriteLine("  table6              capacity: 256-2048 bits in conv2/conv3/conv4");
        Console.WriteLine("  table8              fine-tuning attack (no regularizer) CIFAR-10 -> CIFAR-10 and Caltech-101 -> CIFAR-10");
        Console.WriteLine("  pruning             Fig. 5/6: prune the host layer 0-100% (ascending, descending, random)");
        Console.WriteLine("  overwrite           a second mark with a new key in conv2/conv3/conv4");
        Console.WriteLine("  transforms          quantization, noise, channel permutation and rescaling of the host layer");
        Console.WriteLine("  payload             error-correcting payloads at T = 256: code per message size, and which survive each attack");
        Console.WriteLine("  report              write results/REPORT.md from the experiments' JSON files (--out DIR)");
        Console.WriteLine("  speed               time WRN-10-4 training steps (batch 64) with and without a mark, and the data loader");
        Console.WriteLine();
        Console.WriteLine(Settings.Usage);
        Console.WriteLine(Speed.Usage);
        return 0;
    default:
        Console.Error.WriteLine($"error: unknown command '{verb}'. Run with --help for the commands.");
        return 2;
}
