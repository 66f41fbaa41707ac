using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using ScottPlot;

namespace WideResNet;

/// <summary>The paper's figures as PNG files (Fig. 1 training curves, Fig. 2 histograms of σ(Xw), Fig. 3 weight distributions).</summary>
internal static class Figures
{
    private const int Width = 900;
    private const int Height = 560;

    /// <summary>Fig. 1/4: test error (solid, left axis) and training loss (dashed, right axis) per epoch.</summary>
    internal static void TrainingCurves(string path, string title, IEnumerable<(string Label, double[] Epochs, double[] TestError, double[] TrainLoss)> runs)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var i = 0;
        var right = plot.Axes.Right;
        foreach (var (label, epochs, testError, trainLoss) in runs)
        {
            var colour = palette.GetColor(i++);
            var error = plot.Add.Scatter(epochs, testError.Select(e => 100 * e).ToArray());
            error.LegendText = label;
            error.Color = colour;
            error.LineWidth = 2;
            var loss = plot.Add.Scatter(epochs, trainLoss);
            loss.Color = colour;
            loss.LinePattern = LinePattern.Dashed;
            loss.Axes.YAxis = right;
        }

        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel("test error (%), solid");
        right.Label.Text = "training loss, dashed";
        plot.ShowLegend(Alignment.UpperRight);
        Save(plot, path);
    }

    /// <summary>Fig. 2/6: histograms of y = σ(Xw) for each labelled set of projections.</summary>
    internal static void ProjectionHistograms(string path, string title, IEnumerable<(string Label, IReadOnlyList<double> Projection)> sets)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var i = 0;
        foreach (var (label, projection) in sets)
        {
            var y = projection.Select(v => 1 / (1 + Math.Exp(-v))).ToArray();
            var histogram = ScottPlot.Statistics.Histogram.WithBinCount(40, 0, 1);
            histogram.AddRange(y);
            var bars = plot.Add.Bars(histogram.Bins, histogram.Counts);
            bars.LegendText = label;
            bars.Color = palette.GetColor(i++).WithAlpha(0.6);
            foreach (var bar in bars.Bars)
            {
                bar.Size = histogram.FirstBinSize;
                bar.LineWidth = 0;
            }
        }

        plot.Title(title);
        plot.XLabel("y = σ(Xw)");
        plot.YLabel("bits");
        plot.ShowLegend(Alignment.UpperCenter);
        Save(plot, path);
    }

    /// <summary>Fig. 3: distribution of the host layer's weights, with and without the mark.</summary>
    internal static void WeightDistributions(string path, string title, IEnumerable<(string Label, IReadOnlyList<float> Weights)> sets)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var i = 0;
        var all = sets.ToArray();
        var limit = all.SelectMany(s => s.Weights).Select(w => Math.Abs((double)w)).OrderBy(v => v).ElementAt((int)(0.999 * all.Sum(s => s.Weights.Count) - 1));
        foreach (var (label, weights) in all)
        {
            var histogram = ScottPlot.Statistics.Histogram.WithBinCount(80, -limit, limit);
            histogram.AddRange(weights.Select(w => (double)w));
            var line = plot.Add.ScatterLine(histogram.Bins, histogram.GetProbability());
            line.LegendText = label;
            line.Color = palette.GetColor(i++);
            line.LineWidth = 2;
        }

        plot.Title(title);
        plot.XLabel("weight");
        plot.YLabel("fraction");
        plot.ShowLegend(Alignment.UpperRight);
        Save(plot, path);
    }

    /// <summary>Fig. 5 style: one line per series against a shared x.</summary>
    internal static void Lines(string path, string title, string xLabel, string yLabel, IEnumerable<(string Label, double[] X, double[] Y)> series)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var i = 0;
        foreach (var (label, x, y) in series)
        {
            var line = plot.Add.Scatter(x, y);
            line.LegendText = label;
            line.Color = palette.GetColor(i++);
            line.LineWidth = 2;
        }

        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend(Alignment.UpperLeft);
        Save(plot, path);
    }

    private static void Save(Plot plot, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var temporary = path + ".tmp.png";
        plot.SavePng(temporary, Width, Height);
        File.Move(temporary, path, overwrite: true);
    }
}
