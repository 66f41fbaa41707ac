using System;
using WideResNet;
using WideResNet.Experiments;

// The WideResNet sample: the paper's experiments as commands.
var verb = args.Length > 0 ? args[0] : "help";
switch (verb)
{
    case "demo":
        return Demo.Run(args[1..]);
    case var name when Registry.Find(name) is { } experiment:
        return experiment.Execute(args[1..]);
    case "speed":
        return Speed.Run(args[1..]);
    case "report":
        return Report.Run(args[1..]);
    case "help" or "--help" or "-h":
        Console.WriteLine("usage: dotnet run --project samples/WideResNet -c Release -- <command> [options]");
        Console.WriteLine();
        Console.WriteLine("commands:");
        Console.WriteLine("  demo [--out DIR]    train WRN-10-2 with and without a 256-bit mark on the committed CIFAR-10 subset,");
        Console.WriteLine("                      verify it, prune the host layer by 65% and verify again (offline, ~3 min)");
        foreach (var experiment in Registry.All)
        {
            Console.WriteLine($"  {experiment.Name,-20}{experiment.Summary}");
        }

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
