using System;
using System.Globalization;
using System.IO;

namespace Watermark.Training;

/// <summary>
/// Progress of a long run: epoch, batch, ETA, loss, E_R, BER, test error. On a terminal one status
/// line is rewritten in place; when output is redirected (CI, files) it prints plain lines.
/// </summary>
public sealed class ProgressDisplay
{
    private readonly TextWriter writer;
    private readonly bool interactive;
    private int lastWidth;

    /// <summary>Writes to <paramref name="writer"/>; rewrites in place only when it is the console and a terminal.</summary>
    public ProgressDisplay(TextWriter writer, bool? interactive = null)
    {
        this.writer = writer ?? throw new ArgumentNullException(nameof(writer));
        this.interactive = interactive ?? (ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected);
    }

    /// <summary>Silent.</summary>
    public static ProgressDisplay None { get; } = new(TextWriter.Null, interactive: false);

    /// <summary>A progress update inside an epoch.</summary>
    public void Batch(int epoch, int epochs, long batch, long batches, TimeSpan elapsed, TimeSpan remaining, double loss)
    {
        var line = string.Create(CultureInfo.InvariantCulture, $"epoch {epoch}/{epochs}  batch {batch}/{batches}  loss {loss:F4}  elapsed {Format(elapsed)}  ETA {Format(remaining)}");
        if (interactive)
        {
            writer.Write("\r" + line.PadRight(lastWidth));
            lastWidth = line.Length;
        }
        else
        {
            writer.WriteLine(line);
        }
    }

    /// <summary>The summary line of a finished epoch.</summary>
    public void Epoch(int epochs, EpochMetrics m, TimeSpan remaining)
    {
        var watermark = double.IsNaN(m.BitErrorRate) ? string.Empty : string.Create(CultureInfo.InvariantCulture, $"  E_R {m.EmbeddingLoss:F3}  BER {m.BitErrorRate:F3}");
        var test = double.IsNaN(m.TestError) ? string.Empty : string.Create(CultureInfo.InvariantCulture, $"  test error {100 * m.TestError:F2}%");
        var line = string.Create(CultureInfo.InvariantCulture, $"epoch {m.Epoch}/{epochs}  lr {m.LearningRate:G3}  loss {m.TrainLoss:F4}{watermark}{test}  {m.Seconds:F1} s ({m.ImagesPerSecond:F0} examples/s)  RSS {m.ResidentMegabytes:F0} MiB (peak {m.PeakResidentMegabytes:F0}, managed {m.ManagedMegabytes:F0})  ETA {Format(remaining)}");
        writer.WriteLine(interactive ? "\r" + line.PadRight(lastWidth) : line);
        lastWidth = 0;
    }

    /// <summary>A free-form line.</summary>
    public void Line(string text) => writer.WriteLine(interactive && lastWidth > 0 ? "\r" + text.PadRight(lastWidth) : text);

    private static string Format(TimeSpan t) =>
        t.TotalHours >= 1 ? t.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : t.ToString(@"m\:ss", CultureInfo.InvariantCulture);
}
