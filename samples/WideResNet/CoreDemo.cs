using System;
using System.Diagnostics;
using System.IO;
using TorchSharp;
using Watermark;
using static TorchSharp.torch;

namespace WideResNet;

/// <summary>
/// The method's core on a real layer: a fresh Conv2d(64, 64, 3) (M = 576) receives T = 256 bits
/// through E_R alone, then is verified with its key file and with a key that never touched it.
/// </summary>
internal static class CoreDemo
{
    internal static int Run(string[] args)
    {
        var output = args.Length == 2 && args[0] == "--out" ? args[1] : Path.Combine(Path.GetTempPath(), "watermark-demo");
        if (args.Length is not (0 or 2) || (args.Length == 2 && args[0] != "--out"))
        {
            Console.Error.WriteLine("error: demo takes only '--out DIR'.");
            return 2;
        }

        var clock = Stopwatch.StartNew();
        torch.manual_seed(2017);
        using var conv = nn.Conv2d(64, 64, 3);
        var host = conv.weight!;
        var key = WatermarkKey.Create("weight", host.shape, bits: 256, KeyKind.Random, Message.FromText("(c) ACME Vision 2026"));
        Console.WriteLine($"host   Conv2d(64, 64, 3): weight {Capacity.ShapeText(host.shape)}, filter mean M = {key.FilterMeanLength}");
        Console.WriteLine($"key    {key.Bits} bits, {key.Kind.ToString().ToLowerInvariant()} key from a fresh 256-bit CSPRNG seed, message \"{key.Message.Text}\"");
        Report("before", key.Extract(host));

        using var optimizer = optim.Adam(conv.parameters(), 0.01);
        for (var step = 1; step <= 100; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = EmbeddingLoss.Compute(host, key);
            loss.backward();
            optimizer.step();
            if (step % 25 == 0)
            {
                Console.WriteLine($"step {step,3}  E_R = {loss.ToSingle(),9:F4}  BER = {key.Extract(host).BitErrorRate:0.000}");
            }
        }

        Directory.CreateDirectory(output);
        var keyFile = Path.Combine(output, "demo.key.json");
        new Keyring(key).Save(keyFile);
        Console.WriteLine($"saved  key file {keyFile} (owner-only; keep it secret)");

        var owner = Keyring.Load(keyFile).Verify(conv);
        Report("owner", owner.Slots[0]);
        var message = System.Text.Encoding.UTF8.GetString(Message.Recover(owner.Slots[0].MessageBits.AsSpan(), key.Message.Bytes.Length));
        Console.WriteLine($"       message read back: \"{message}\"");
        Console.WriteLine($"       verdict at alpha = {owner.Alpha.ToString("0.##e0", System.Globalization.CultureInfo.InvariantCulture)}: {(owner.IsPresent ? "PRESENT" : "absent")}");

        var stranger = new Keyring(WatermarkKey.Create("weight", host.shape, 256, KeyKind.Random, Message.FromText("(c) ACME Vision 2026"))).Verify(conv);
        Report("other", stranger.Slots[0]);
        Console.WriteLine($"       verdict at alpha = {stranger.Alpha.ToString("0.##e0", System.Globalization.CultureInfo.InvariantCulture)}: {(stranger.IsPresent ? "PRESENT" : "absent")}");
        Console.WriteLine($"done in {clock.Elapsed.TotalSeconds:F1} s");
        return owner.IsPresent && !stranger.IsPresent ? 0 : 1;
    }

    private static void Report(string label, SlotVerification slot) =>
        Console.WriteLine($"{label,-6} {slot.Matched}/{slot.Bits} bits match, BER = {slot.BitErrorRate:0.000}, p = {slot.PValue}");
}
