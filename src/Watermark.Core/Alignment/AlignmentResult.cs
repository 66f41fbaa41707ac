using System;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;
using System.Text;

namespace Watermark.Alignment;

/// <summary>
/// What <see cref="HostAlignment.Align"/> found: the suspect weight in the reference's shape, the map
/// (suspect filter σ(o) ≈ s_o·a_o·reference filter o; suspect input channel π(i) ≈ b_i·reference channel i,
/// scales up to one common factor) and how well it holds.
/// </summary>
public sealed class AlignmentResult
{
    internal AlignmentResult(Parts parts)
    {
        AlignedWeight = [.. parts.Aligned.Select(v => (float)v)];
        Shape = [.. parts.Shape];
        OutputMatch = [.. parts.OutputMatch];
        OutputSigns = [.. parts.Signs];
        OutputScales = [.. parts.OutputScales];
        InputMatch = [.. parts.InputMatch.Select(g => parts.Groups[g][0])];
        InputMembers = [.. parts.InputMatch.Select(g => parts.Groups[g].ToImmutableArray())];
        InputScales = [.. parts.InputScales];
        MergedGroups = [.. parts.Groups.Where(g => g.Length > 1).Select(g => g.Order().ToImmutableArray())];
        var used = parts.InputMatch.SelectMany(g => parts.Groups[g]).ToHashSet();
        DroppedInputs = [.. Enumerable.Range(0, parts.SuspectInputs).Where(j => !used.Contains(j))];
        var usedOutputs = parts.OutputMatch.ToHashSet();
        DroppedOutputs = [.. Enumerable.Range(0, parts.SuspectOutputs).Where(j => !usedOutputs.Contains(j))];
        InputCosines = [.. parts.InputCosines];
        OutputCosines = [.. parts.OutputCosines];
        WeightCosine = parts.WeightCosine;
        InputMargins = [.. parts.InputMargins];
        OutputMargins = [.. parts.OutputMargins];
        Iterations = parts.Iterations;
        UsedProducerSignatures = parts.UsedSignatures;
        ConfidenceThreshold = parts.ConfidenceThreshold;
    }

    /// <summary>The aligned suspect weight, row-major float32 of <see cref="Shape"/> (the reference's shape): read the mark from this.</summary>
    public ImmutableArray<float> AlignedWeight { get; }

    /// <summary>The reference's shape, [O, I, k, k] or [O, I].</summary>
    public ImmutableArray<long> Shape { get; }

    /// <summary>σ: for each reference filter o, the suspect filter matched to it.</summary>
    public ImmutableArray<int> OutputMatch { get; }

    /// <summary>s_o = ±1: −1 where the suspect's filter is the reference's negated (a sign flip absorbed by the batch norm).</summary>
    public ImmutableArray<int> OutputSigns { get; }

    /// <summary>a_o &gt; 0: the suspect filter's scale relative to the reference's (includes the common factor, e.g. a weight-decay shrink).</summary>
    public ImmutableArray<double> OutputScales { get; }

    /// <summary>π: for each reference input channel i, the suspect input channel matched to it (the representative of merged copies).</summary>
    public ImmutableArray<int> InputMatch { get; }

    /// <summary>For each reference input channel, every suspect channel summed into it (one unless copies were merged).</summary>
    public ImmutableArray<ImmutableArray<int>> InputMembers { get; }

    /// <summary>b_i &gt; 0: the suspect channel's scale relative to the reference's, normalised to a geometric mean of 1.</summary>
    public ImmutableArray<double> InputScales { get; }

    /// <summary>Suspect input channels recognised as copies of one neuron by their producer signatures, and summed (NeuronSplit, NeuronClique).</summary>
    public ImmutableArray<ImmutableArray<int>> MergedGroups { get; }

    /// <summary>Suspect input channels that match no reference channel: dummies, dropped.</summary>
    public ImmutableArray<int> DroppedInputs { get; }

    /// <summary>Suspect filters that match no reference filter: dummies, dropped.</summary>
    public ImmutableArray<int> DroppedOutputs { get; }

    /// <summary>Per reference input channel, the cosine between its slice W[:, i] and the aligned suspect's.</summary>
    public ImmutableArray<double> InputCosines { get; }

    /// <summary>Per reference filter, the cosine between W[o] and the aligned suspect's (signs undone, so ≈ 1 for a true match).</summary>
    public ImmutableArray<double> OutputCosines { get; }

    /// <summary>The cosine between the whole reference weight and the aligned one.</summary>
    public double WeightCosine { get; }

    /// <summary>
    /// Per reference input channel, the cosine of the chosen suspect channel minus the best cosine of any other
    /// (balanced, output-aligned slices): how far ahead the match is; near 0 or negative, the match is a guess.
    /// </summary>
    public ImmutableArray<double> InputMargins { get; }

    /// <summary>Per reference filter, the |cos| of the chosen suspect filter minus the best of any other.</summary>
    public ImmutableArray<double> OutputMargins { get; }

    /// <summary>Rounds of "match filters, then channels" until the match stopped changing (or the limit).</summary>
    public int Iterations { get; }

    /// <summary>Whether producer signatures took part in matching input channels.</summary>
    public bool UsedProducerSignatures { get; }

    /// <summary>The threshold <see cref="IsConfident"/> compares against (<see cref="AlignmentOptions.ConfidenceThreshold"/>).</summary>
    public double ConfidenceThreshold { get; }

    /// <summary>Mean of <see cref="InputCosines"/>.</summary>
    public double MeanInputCosine => InputCosines.Average();

    /// <summary>Least of <see cref="InputCosines"/>.</summary>
    public double MinInputCosine => InputCosines.Min();

    /// <summary>Mean of <see cref="OutputCosines"/>.</summary>
    public double MeanOutputCosine => OutputCosines.Average();

    /// <summary>The fraction of input channels whose match has a cosine above 0.9.</summary>
    public double StrongInputFraction => InputCosines.Count(c => c > 0.9) / (double)InputCosines.Length;

    /// <summary>Mean of <see cref="InputMargins"/>.</summary>
    public double MeanInputMargin => InputMargins.Average();

    /// <summary>
    /// Whether the suspect layer is plausibly a transformed copy of the reference: mean input and mean output
    /// cosines both at least <see cref="ConfidenceThreshold"/>. When false, the aligned weight is an arbitrary
    /// best fit to the reference and a mark read from it means nothing.
    /// </summary>
    public bool IsConfident => MeanInputCosine >= ConfidenceThreshold && MeanOutputCosine >= ConfidenceThreshold;

    /// <summary>How many reference input channels came from another position.</summary>
    public int InputsMoved => InputMatch.Select((j, i) => j != i).Count(m => m);

    /// <summary>How many reference filters came from another position.</summary>
    public int OutputsMoved => OutputMatch.Select((j, o) => j != o).Count(m => m);

    /// <summary>How many filters were negated.</summary>
    public int SignsFlipped => OutputSigns.Count(s => s < 0);

    /// <summary>A few lines: what was undone and how confident the match is.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        var inputs = InputMatch.Length;
        var outputs = OutputMatch.Length;
        text.Append(CultureInfo.InvariantCulture, $"inputs: {InputsMoved}/{inputs} channels moved, scales {InputScales.Min():0.###}..{InputScales.Max():0.###}");
        text.Append(CultureInfo.InvariantCulture, $", {MergedGroups.Length} merged groups ({MergedGroups.Sum(g => g.Length)} channels), {DroppedInputs.Length} dummies dropped\n");
        text.Append(CultureInfo.InvariantCulture, $"outputs: {OutputsMoved}/{outputs} filters moved, {SignsFlipped} signs flipped, scales {OutputScales.Min():0.###}..{OutputScales.Max():0.###}, {DroppedOutputs.Length} dummies dropped\n");
        text.Append(CultureInfo.InvariantCulture, $"match: input cos mean {MeanInputCosine:0.000} min {MinInputCosine:0.000} ({StrongInputFraction:P0} > 0.9), margin mean {MeanInputMargin:0.000}; output cos mean {MeanOutputCosine:0.000}; weight cos {WeightCosine:0.000}; {Iterations} rounds{(UsedProducerSignatures ? ", producer signatures" : string.Empty)}\n");
        text.Append(IsConfident
            ? FormattableString.Invariant($"confident (mean cosines ≥ {ConfidenceThreshold})")
            : FormattableString.Invariant($"NOT confident (mean cosines < {ConfidenceThreshold}): the suspect does not look like a transformed copy of the reference"));
        return text.ToString();
    }

    /// <summary>The pieces <see cref="HostAlignment"/> computes, in its index space (merged channels).</summary>
    internal sealed record Parts(
        double[] Aligned,
        long[] Shape,
        int[] OutputMatch,
        int[] Signs,
        double[] OutputScales,
        int[] InputMatch,
        double[] InputScales,
        int[][] Groups,
        int SuspectOutputs,
        int SuspectInputs,
        double[] InputCosines,
        double[] OutputCosines,
        double WeightCosine,
        double[] InputMargins,
        double[] OutputMargins,
        int Iterations,
        bool UsedSignatures,
        double ConfidenceThreshold);
}
