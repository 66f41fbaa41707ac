using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using TorchSharp.Modules;
using Watermark;
using Watermark.Attacks;

namespace WideResNet.Experiments;

/// <summary>
/// Error-correcting payloads at T = 256: for each message size, the BCH code the key would choose, the
/// bit error rate it survives and how often it refuses words that never carried it; then, for each
/// attack of the robustness study, which payload sizes still read back exactly.
/// </summary>
/// <remarks>
/// The marked run carries the experiments' ordinary key (all-ones message, random Gaussian X). That is
/// enough: with a linear code, whether a word decodes depends only on which bits are wrong, not on the
/// codeword; and flipping a target bit is the same as flipping the sign of X's row, which leaves a
/// Gaussian key Gaussian, so a network trained towards any other bits has errors distributed the same
/// way. So each attack's error pattern e = b̂ ⊕ b is measured once on the real attacked network, and
/// every code is judged by decoding (its codeword ⊕ e) exactly as verify does. The demo embeds a coded
/// message for real.
/// </remarks>
internal sealed class Payload() : Experiment("payload", "error-correcting payloads at T = 256: code per message size, and which survive each attack")
{
    private const int Bits = 256;
    private const int RandomWords = 10_000;

    public override ExperimentResult Run(Runner runner, string command)
    {
        var s = runner.Settings.Seed;
        var marked = runner.Get(Runs.Marked(s));
        var key = runner.KeyFor(marked.Spec);
        var fineTuned = runner.Get(Runs.FineTuneAttack(s, marked.Spec));
        var test = SampleTraining.TestBatches(runner.CifarTest);

        // Every payload size that leaves room for a code, with the code the key would choose.
        var sizes = Enumerable.Range(1, Bits / 8).Select(bytes => (Bytes: bytes, Code: BchCode.Choose(bytes * 8, Bits))).Where(p => p.Code is not null).ToList();
        var tradeOff = new StringBuilder();
        tradeOff.AppendLine(CultureInfo.InvariantCulture, $"Codes at T = {Bits} (what `keygen --ecc auto` picks for each message size), and how often each decodes a random word — one a model that never saw the key would give — to any message at all ({RandomWords:N0} random words each; a valid-looking but wrong message is then still caught by comparing with the key's message, which verify does):");
        tradeOff.AppendLine();
        tradeOff.AppendLine("| message | code | corrects t bits | survives BER up to | random words decoded |");
        tradeOff.AppendLine("|---|---|---|---|---|");
        var random = new Random(1);
        foreach (var (bytes, code) in sizes)
        {
            var accepted = 0;
            for (var i = 0; i < RandomWords; i++)
            {
                var word = new bool[code!.Length];
                for (var j = 0; j < word.Length; j++)
                {
                    word[j] = random.Next(2) == 1;
                }

                accepted += code.Decode(word).Success ? 1 : 0;
            }

            tradeOff.AppendLine(CultureInfo.InvariantCulture, $"| {bytes} byte{(bytes == 1 ? string.Empty : "s")} | {code!.Name} (GF(2^{code.FieldDegree})) | {code.CorrectableErrors} | {(double)code.CorrectableErrors / code.Length:0.000} | {accepted} of {RandomWords:N0} |");
        }

        // The attacks of the robustness study, each on the real marked network.
        var rows = new List<Row>();
        var survived = new StringBuilder();
        survived.AppendLine("Which payloads still read back exactly after each attack (error pattern measured on the attacked network; 20 bytes is the demo's \"(c) ACME Vision 2026\", BCH(252, 160), t = 12):");
        survived.AppendLine();
        survived.AppendLine("| attack | wrong bits of 256 | largest exact payload with a code | 20 bytes with its code | 20 bytes without a code (majority vote) |");
        survived.AppendLine("|---|---|---|---|---|");
        void Try(string setting, string run, Action<Model.WideResNet> attack)
        {
            var (row, m, error) = Robustness.Try(runner, run, key, test, setting, attack);
            rows.Add(row);
            var errors = ErrorPattern(key, m.Slot);
            var exact = sizes.Where(p => ReadBack(key, p.Bytes, p.Code, errors).IsExact).Select(p => p.Bytes).ToList();
            var largest = exact.Count == 0 ? "none" : $"{exact.Max()} bytes";
            var demo = ReadBack(key, 20, sizes.Single(p => p.Bytes == 20).Code, errors);
            var plain = ReadBack(key, 20, null, errors);
            survived.AppendLine(CultureInfo.InvariantCulture, $"| {setting} | {errors.Count(e => e)} | {largest} | {(demo.IsExact ? $"exact ({demo.CorrectedBits} corrected)" : demo.IsRefused ? "refused" : "wrong")} | {(plain.IsExact ? "exact" : "wrong")} |");
            Console.WriteLine($"{setting}: {errors.Count(e => e)} wrong bits, largest exact payload {largest}, test error {100 * error:F2}%");
        }

        Parameter Host(Model.WideResNet model) => Runner.Host(model, key.Parameter);
        var width = (int)key.Shape[1]; // conv2's input channels, which the rescaling scales

        Try("none", marked.Spec.Name, _ => { });
        foreach (var rate in new[] { 0.5, 0.65, 0.8 })
        {
            Try($"prune conv2 {100 * rate:0}% (smallest magnitudes first)", marked.Spec.Name, m => Host(m).Prune(rate, PruningOrder.Ascending, seed: 1));
        }

        foreach (var bits in new[] { 4, 3 })
        {
            Try($"quantize conv2 to {bits} bits, per tensor", marked.Spec.Name, m => Host(m).Quantize(bits, perChannel: false));
            Try($"quantize conv2 to {bits} bits, per channel", marked.Spec.Name, m => Host(m).Quantize(bits, perChannel: true));
        }

        foreach (var sigma in new[] { 1.0, 2.0, 5.0 })
        {
            Try($"Gaussian noise σ = {sigma} × std(w)", marked.Spec.Name, m => Host(m).AddNoise(sigma, seed: 1));
        }

        Try("rescale conv2's input channels, factors in [1/2, 2]", marked.Spec.Name, m => Robustness.RescaleConv2(m, ChannelScaling.Random(width, 2, seed: 1)));
        Try("rescale conv2's input channels, factors in [1/20, 20]", marked.Spec.Name, m => Robustness.RescaleConv2(m, ChannelScaling.Random(width, 20, seed: 1)));
        Try("fine-tuning, 10 epochs without the regularizer (Table 8)", fineTuned.Spec.Name, _ => { });

        var notes = new List<string>
        {
            tradeOff.ToString().TrimEnd(),
            survived.ToString().TrimEnd(),
            "The verdict (the rows above: BER and p against the raw bits) does not depend on the payload's code. The marked run was trained with the experiments' key (all-ones message, Gaussian X); a linear code decodes (codeword ⊕ e) whatever the codeword, and flipping a target bit equals flipping the sign of a Gaussian row of X, so each attack's error pattern e, measured on the real attacked network, stands for any message and decides every code. The copies of the first codeword bits in the T − N spare bits are combined by a majority vote (a tie keeps the first copy), as verify does. The demo (`./build.sh demo`) embeds a BCH-coded message for real and reads it back after 65% pruning (5 bits corrected).",
        };
        return Result(runner, "Beyond the paper: error-correcting payloads (BCH) at T = 256", command, rows, [marked, fineTuned], [], notes, marked.Network);
    }

    // e_j = 1 where the attacked network's bit j differs from the embedded one.
    private static bool[] ErrorPattern(WatermarkKey key, SlotVerification slot)
    {
        var target = key.TargetBits().ToArray();
        return [.. slot.ExtractedBits.Select((bit, j) => bit != target[j])];
    }

    // A key of the same slot with a message of `bytes` bytes (and `code`), read back from its own bits with the errors applied.
    private static PayloadReadback ReadBack(WatermarkKey key, int bytes, BchCode? code, bool[] errors)
    {
        var message = Message.FromBytes([.. Enumerable.Range(0, bytes).Select(i => (byte)(0x41 + (i % 26)))]);
        var probe = WatermarkKey.Create(key.Parameter, key.Shape, Bits, key.Kind, message, key.Strength, Whitening.KeyedMask, allowOverCapacity: true, code: code);
        var bits = probe.ToMessageBits(probe.TargetBits());
        for (var j = 0; j < bits.Length; j++)
        {
            bits[j] ^= errors[j];
        }

        return probe.ReadPayload(bits)!;
    }
}
