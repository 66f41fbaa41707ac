using System;
using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace WideResNet;

/// <summary>Times training steps of WRN-d-k at batch 64 on random data (forward, backward, SGD step).</summary>
internal static class Speed
{
    internal static int Run(string[] args)
    {
        var depth = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 10;
        var widen = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 4;
        var steps = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 10;
        torch.manual_seed(1);
        using var model = new Model.WideResNet(depth, widen, 10);
        using var optimizer = optim.SGD(model.parameters(), 0.1, 0.9, 0, 5e-4, true);
        using var images = randn(64, 3, 32, 32);
        using var labels = randint(0, 10, [64]);
        var clock = new Stopwatch();
        for (var step = 0; step < steps + 2; step++)
        {
            if (step == 2)
            {
                clock.Start();
            }

            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            nn.functional.cross_entropy(model.forward(images), labels).backward();
            optimizer.step();
        }

        var perStep = clock.Elapsed.TotalSeconds / steps;
        Console.WriteLine($"WRN-{depth}-{widen}: {perStep * 1000:F0} ms per step of 64, {64 / perStep:F0} images/s, threads {torch.get_num_threads()}");
        return 0;
    }
}
