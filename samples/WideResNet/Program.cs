using System;
using WideResNet;

// The WideResNet sample: every experiment of Uchida et al. (2017) as a command.
// Until the training issue lands, `demo` runs the method's core on a real TorchSharp layer.
var verb = args.Length > 0 ? args[0] : "help";
switch (verb)
{
    case "demo":
        return CoreDemo.Run(args[1..]);
    case var name when Array.IndexOf(WideResNet.Experiments.Experiment.Names, name) >= 0:
        return WideResNet.Experiments.Experiment.Run(name, args[1..]);
    case "speed":
        return Speed.Run(args[1..]);
    case "help" or "--help" or "-h":
        Console.WriteLine("usage: dotnet run --project samples/WideResNet -c Release -- demo [--out DIR]");
        Console.WriteLine();
        Console.WriteLine("  demo   embed a 256-bit watermark into Conv2d(64, 64, 3) by its embedding loss alone,");
        Console.WriteLine("         save the key file, and verify the layer with it and with a stranger's key.");
        return 0;
    default:
        Console.Error.WriteLine($"error: unknown command '{verb}'. Run with --help for the commands.");
        return 2;
}
