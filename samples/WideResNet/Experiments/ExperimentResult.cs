using System;
using System.Collections.Generic;

namespace WideResNet.Experiments;

/// <summary>One row of a results table: our run beside the paper's number.</summary>
internal sealed record Row(string Setting, string Run, double TestError, double? PaperTestError, double EmbeddingLoss, double BitErrorRate, string PValue, double Minutes);

/// <summary>The JSON and Markdown an experiment leaves in the results folder.</summary>
// Aligned: verifications against a reference (AlignNull); Removal: attacked copies (Removal); null for the other experiments.
internal sealed record ExperimentResult(string Experiment, string Title, string Preset, string Network, ulong Seed, string Command, DateTimeOffset Finished, List<Row> Rows, List<RunResult> Runs, List<string> Figures, List<string> Notes, List<AlignedRow>? Aligned = null, List<RemovalRow>? Removal = null);
