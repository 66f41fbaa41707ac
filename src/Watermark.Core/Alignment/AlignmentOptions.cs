using System;

namespace Watermark.Alignment;

/// <summary>Tuning of <see cref="HostAlignment.Align"/>; the defaults are what the tests were measured with.</summary>
public sealed record AlignmentOptions
{
    /// <summary>The defaults.</summary>
    public static AlignmentOptions Default { get; } = new();

    /// <summary>
    /// Suspect input channels whose producer signatures have a cosine of at least this are one neuron,
    /// copied (NeuronSplit, NeuronClique), and their host slices are summed. Distinct trained filters rarely
    /// come close: independent ones of a few hundred values have |cos| ≈ 0.1.
    /// </summary>
    public double MergeThreshold { get; init; } = 0.95;

    /// <summary>The most rounds of "match outputs, then inputs" before giving up on a fixed point.</summary>
    public int MaxIterations { get; init; } = 20;

    /// <summary>
    /// The mean matched cosine (input slices and output filters, each) from which the match counts as
    /// confident. Aligning an independent weight of the same shape gives about 0.1–0.2 for layers of 64
    /// channels and 3×3 kernels; a copy fine-tuned with noise of half the weights' spread, about 0.9.
    /// </summary>
    public double ConfidenceThreshold { get; init; } = 0.5;

    internal void Validate()
    {
        if (!(MergeThreshold > 0 && MergeThreshold <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(MergeThreshold), MergeThreshold, "The merge threshold is a cosine in (0, 1], e.g. 0.95.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(MaxIterations, 1, nameof(MaxIterations));
        if (!(ConfidenceThreshold >= 0 && ConfidenceThreshold <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(ConfidenceThreshold), ConfidenceThreshold, "The confidence threshold is a cosine in [0, 1], e.g. 0.5.");
        }
    }
}
