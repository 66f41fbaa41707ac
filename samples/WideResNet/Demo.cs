using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using TorchSharp;
using Watermark;
using Watermark.Attacks;
using WideResNet.Data;
using Watermark.Training;
using static TorchSharp.torch;

namespace WideResNet;

/// <summary>
/// The README's first command: on the committed real CIFAR-10 subset (2,000 training, 1,000 test
/// images), train WRN-10-2 with and without a 256-bit mark in conv2, compare their test accuracy,
/// verify the mark, prune the host layer by 65% and verify again. Offline; about 2–3 minutes on 2 cores.
/// </summary>
internal static class Demo
{
    private const int Epochs = 12;

    internal static int Run(string[] args)
    {
        var output = args.Length == 2 && args[0] == "--out" ? args[1] : Path.Combine(Path.GetTempPath(), "watermark-demo");
        if (args.Length is not (0 or 2) || (args.Length == 2 && args[0] != "--out"))
        {
            Console.Error.WriteLine("error: demo takes only '--out DIR'.");
            return 2;
        }

        var clock = Stopwatch.StartNew();
        torch.set_num_threads(Environment.ProcessorCount);
        var (train, test) = Datasets.Cifar10Subset(Path.Combine(AppContext.BaseDirectory, "data", "cifar10-subset"));
        var options = new TrainingOptions { Epochs = Epochs, Milestones = [6, 9], ReportEvery = 0, Seed = 1 };
        Console.WriteLine($"data   {train.Name}: {train.Count} images; {test.Name}: {test.Count} images (real CIFAR-10, committed)");
        Console.WriteLine($"train  WRN-10-2, {Epochs} epochs, SGD (Nesterov) lr 0.1, batch 64, pad-4 crop + flip");

        torch.manual_seed(1);
        using var plain = new Model.WideResNet(10, 2, 10);
        Console.WriteLine("── without watermark");
        var plainHistory = SampleTraining.Trainer(plain, options, progress: new ProgressDisplay(Console.Out)).Fit(train, test, options);

        torch.manual_seed(1);
        using var marked = new Model.WideResNet(10, 2, 10);
        // Every block's conv2 is a [Watermark] slot; this key file activates the one in group conv2.
        var slot = marked.GetWatermarkSlots().Single(s => s.Parameter == Model.WideResNet.HostParameter(2));
        var host = slot.Parameter;
        var weight = slot.Weight;
        // The strongest BCH code that fits: 20 bytes in 256 bits → BCH(252, 160), up to 12 wrong bits corrected.
        var message = Message.FromText("(c) ACME Vision 2026");
        var key = slot.CreateKey(message, code: BchCode.Choose(message.BitLength, slot.Bits));
        var keyring = new Keyring(key);
        Console.WriteLine($"── with a {key.Bits}-bit random-key watermark in {host} (M = {key.FilterMeanLength}, λ = {key.Strength})");
        var markedHistory = SampleTraining.Trainer(marked, options, new WatermarkRegularizer(keyring, marked), progress: new ProgressDisplay(Console.Out)).Fit(train, test, options);

        Directory.CreateDirectory(output);
        var keyFile = Path.Combine(output, "demo.key.json");
        var modelFile = Path.Combine(output, "demo-wrn-10-2.dat");
        keyring.Save(keyFile, overwrite: true); // each demo run makes a fresh key for its fresh model
        marked.save(modelFile);

        Console.WriteLine("── result");
        Console.WriteLine($"test accuracy without the mark: {100 * (1 - plainHistory[^1].TestError):F1}%");
        Console.WriteLine($"test accuracy with the mark:    {100 * (1 - markedHistory[^1].TestError):F1}%");
        Report("verify (owner's key)", marked.ExtractWatermark(keyring));
        Report("verify (unmarked model)", plain.ExtractWatermark(keyring));

        using (no_grad())
        {
            var values = weight.detach().contiguous().data<float>().ToArray();
            var zeroed = Pruning.Prune(values, 0.65, PruningOrder.Ascending);
            weight.copy_(tensor(values, weight.shape));
            Console.WriteLine($"prune  {zeroed} of {values.Length} weights of {host} (65%, smallest |w| first)");
        }

        Report("verify after pruning", marked.ExtractWatermark(keyring));
        var pruned = SampleTraining.TestBatches(test);
        Console.WriteLine($"test accuracy after pruning:    {100 * (1 - Trainer.Evaluate(marked, pruned)):F1}%");
        Console.WriteLine($"saved  {modelFile} and its key {keyFile} (owner-only)");
        Console.WriteLine($"       check it yourself: dotnet run --project src/Watermark.Cli -c Release -- verify --model {modelFile} --key {keyFile}");
        Console.WriteLine($"done in {clock.Elapsed.TotalMinutes:F1} min");
        return 0;
    }

    private static void Report(string label, VerificationResult result)
    {
        var slot = result.Slots[0];
        Console.WriteLine($"{label,-24} {slot.Matched}/{slot.Bits} bits, BER {slot.BitErrorRate:0.000}, p = {slot.PValue} → {(result.IsPresent ? "PRESENT" : "absent")} (alpha {result.Alpha.ToString("0.##e0", System.Globalization.CultureInfo.InvariantCulture)})");
        if (slot.Payload is { } payload)
        {
            Console.WriteLine($"{string.Empty,-24} message: {payload}");
        }
    }
}
