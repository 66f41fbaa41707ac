using System;
using System.Collections.Generic;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Watermark.Alignment;

/// <summary>
/// Maps a suspect's host weight onto the owner's reference weight before a mark is read, undoing the
/// function-preserving transforms that scramble the filter mean (docs/alignment.md): permuted, positively
/// scaled input channels (through the batch norm in front of the ReLU); permuted, scaled and sign-flipped
/// output filters (absorbed by the following batch norm); dummy input channels (NeuronClique, NeuronSplit,
/// merged by their producer signatures) and dummy output filters. It looks at weights only — never at a
/// key: no parameter of this API can carry one, so the match cannot steer towards the mark's bits.
/// </summary>
public static class HostAlignment
{
    private const int Quantiles = 16;

    /// <summary>
    /// Aligns <paramref name="suspect"/> (row-major float32 of <paramref name="suspectShape"/>, [O', I', k, k]
    /// for a conv, [O', I'] for a linear layer) to <paramref name="reference"/> ([O, I, k, k] or [O, I], with
    /// O' ≥ O and I' ≥ I). The producer signatures (both or neither) describe the neurons feeding the host's
    /// input channels on each side; with them, duplicated suspect channels are merged and matching is far
    /// more robust. Returns the suspect weight in the reference's shape, so that the reference's key applies,
    /// and a report of what was undone and how well the match holds.
    /// </summary>
    public static AlignmentResult Align(
        ReadOnlySpan<float> reference,
        IReadOnlyList<long> referenceShape,
        ReadOnlySpan<float> suspect,
        IReadOnlyList<long> suspectShape,
        ProducerSignature? referenceProducer = null,
        ProducerSignature? suspectProducer = null,
        AlignmentOptions? options = null)
    {
        options ??= AlignmentOptions.Default;
        options.Validate();
        var (outputs, inputs, kernel) = Dimensions(referenceShape, reference.Length, nameof(referenceShape), nameof(reference));
        var (suspectOutputs, suspectInputs, suspectKernel) = Dimensions(suspectShape, suspect.Length, nameof(suspectShape), nameof(suspect));
        var sameKernel = referenceShape.Count == suspectShape.Count;
        for (var d = 2; sameKernel && d < referenceShape.Count; d++)
        {
            sameKernel = referenceShape[d] == suspectShape[d];
        }

        if (!sameKernel || suspectKernel != kernel)
        {
            throw new ArgumentException($"The suspect weight {Capacity.ShapeText(suspectShape)} has another kernel than the reference {Capacity.ShapeText(referenceShape)}; only channels can be matched.", nameof(suspectShape));
        }

        if (suspectOutputs < outputs || suspectInputs < inputs)
        {
            throw new ArgumentException($"The suspect weight {Capacity.ShapeText(suspectShape)} has fewer channels than the reference {Capacity.ShapeText(referenceShape)}; alignment can drop dummy channels, not invent missing ones.", nameof(suspectShape));
        }

        if ((referenceProducer is null) != (suspectProducer is null))
        {
            throw new ArgumentException("Give the producer signature of both models or of neither.", referenceProducer is null ? nameof(referenceProducer) : nameof(suspectProducer));
        }

        if (referenceProducer is not null && suspectProducer is not null)
        {
            if (referenceProducer.Channels != inputs || suspectProducer.Channels != suspectInputs)
            {
                throw new ArgumentException($"The producer signatures describe {referenceProducer.Channels} and {suspectProducer.Channels} channels; the host weights take {inputs} and {suspectInputs} inputs.", nameof(suspectProducer));
            }

            if (referenceProducer.Length != suspectProducer.Length)
            {
                throw new ArgumentException($"The producer signatures have vectors of {referenceProducer.Length} and {suspectProducer.Length} values; the two producers must have the same shape.", nameof(suspectProducer));
            }
        }

        var r = new Weight(ToDouble(reference, nameof(reference)), outputs, inputs, kernel);
        var raw = new Weight(ToDouble(suspect, nameof(suspect)), suspectOutputs, suspectInputs, kernel);
        var (s, groups, suspectSignature) = Merge(raw, suspectProducer, options.MergeThreshold);
        if (s.Inputs < inputs)
        {
            throw new WatermarkException($"After merging copied channels (producer signatures with cosine ≥ {options.MergeThreshold}) the suspect has {s.Inputs} input channels, fewer than the reference's {inputs}; raise the merge threshold.");
        }

        var referenceSignature = referenceProducer is null ? null : Normalized(referenceProducer);
        var signatureCosines = referenceSignature is null || suspectSignature is null
            ? null
            : CrossCosines(referenceSignature, suspectSignature, referenceProducer!.Length);

        var allOutputs = Identity(outputs);
        var allInputs = Identity(inputs);
        var (rowFactor, columnFactor) = Balance(r.Energy(allOutputs, allInputs), outputs, inputs);
        var balancedReference = r.Scaled(allOutputs, allInputs, rowFactor, columnFactor, null);

        var inputMatch = signatureCosines is not null
            ? LinearAssignment.Solve(signatureCosines, inputs, s.Inputs, maximize: true)
            : InitialInputMatch(r, s);
        int[] outputMatch = [];
        int[] signs = [];
        double[] hostInputCosines = [];
        double[] outputCosines = [];
        var iterations = 0;
        while (iterations < options.MaxIterations)
        {
            iterations++;
            (outputMatch, signs, outputCosines) = MatchOutputs(balancedReference, s, inputMatch);
            (var next, hostInputCosines) = MatchInputs(balancedReference, s, outputMatch, signs, signatureCosines);
            var stable = next.AsSpan().SequenceEqual(inputMatch);
            inputMatch = next;
            if (stable)
            {
                break;
            }
        }

        // Final rescaling: the scales that give the matched suspect slices the reference's row and column energies.
        var matchedEnergy = s.Energy(outputMatch, inputMatch);
        var targetRows = new double[outputs];
        var targetColumns = new double[inputs];
        var referenceEnergy = r.Energy(allOutputs, allInputs);
        for (var o = 0; o < outputs; o++)
        {
            for (var i = 0; i < inputs; i++)
            {
                targetRows[o] += referenceEnergy[(o * inputs) + i];
                targetColumns[i] += referenceEnergy[(o * inputs) + i];
            }
        }

        var (outputFactor, inputFactor) = Fit(matchedEnergy, outputs, inputs, targetRows, targetColumns);
        var logMean = 0.0;
        foreach (var f in inputFactor)
        {
            logMean += Math.Log(f) / inputs;
        }

        var norm = Math.Exp(logMean);
        for (var i = 0; i < inputs; i++)
        {
            inputFactor[i] /= norm;
        }

        for (var o = 0; o < outputs; o++)
        {
            outputFactor[o] *= norm;
        }

        var aligned = s.Scaled(outputMatch, inputMatch, outputFactor, inputFactor, signs);
        return new AlignmentResult(
            new AlignmentResult.Parts(
                aligned,
                [.. referenceShape],
                outputMatch,
                signs,
                Reciprocals(outputFactor),
                inputMatch,
                Reciprocals(inputFactor),
                groups,
                suspectOutputs,
                suspectInputs,
                SliceCosines(r.Values, aligned, outputs, inputs, kernel, byInput: true),
                SliceCosines(r.Values, aligned, outputs, inputs, kernel, byInput: false),
                Cosine(r.Values, aligned),
                Margins(hostInputCosines, inputs, s.Inputs, inputMatch),
                Margins(outputCosines, outputs, s.Outputs, outputMatch),
                iterations,
                signatureCosines is not null,
                options.ConfidenceThreshold));
    }

    /// <summary>Given the input match, matches output filters by |cos| of their balanced, input-aligned slices.</summary>
    private static (int[] Match, int[] Signs, double[] AbsCosines) MatchOutputs(double[] balancedReference, Weight s, int[] inputMatch)
    {
        var inputs = inputMatch.Length;
        var outputs = balancedReference.Length / (inputs * s.Kernel);
        var allSuspectOutputs = Identity(s.Outputs);
        var (rowFactor, columnFactor) = Balance(s.Energy(allSuspectOutputs, inputMatch), s.Outputs, inputs);
        var suspectRows = s.Scaled(allSuspectOutputs, inputMatch, rowFactor, columnFactor, null);
        var length = inputs * s.Kernel;
        var cosines = CrossCosines(NormalizedRows(balancedReference, outputs, length), NormalizedRows(suspectRows, s.Outputs, length), length);
        var absolute = new double[cosines.Length];
        for (var e = 0; e < cosines.Length; e++)
        {
            absolute[e] = Math.Abs(cosines[e]);
        }

        var match = LinearAssignment.Solve(absolute, outputs, s.Outputs, maximize: true);
        var signs = new int[outputs];
        for (var o = 0; o < outputs; o++)
        {
            signs[o] = cosines[(o * s.Outputs) + match[o]] < 0 ? -1 : 1;
        }

        return (match, signs, absolute);
    }

    /// <summary>Given the output match and signs, matches input channels by the cosine of their balanced, output-aligned slices (plus the producer signatures' cosine).</summary>
    private static (int[] Match, double[] HostCosines) MatchInputs(double[] balancedReference, Weight s, int[] outputMatch, int[] signs, double[]? signatureCosines)
    {
        var outputs = outputMatch.Length;
        var inputs = balancedReference.Length / (outputs * s.Kernel);
        var allSuspectInputs = Identity(s.Inputs);
        var (rowFactor, columnFactor) = Balance(s.Energy(outputMatch, allSuspectInputs), outputs, s.Inputs);
        var suspectBalanced = s.Scaled(outputMatch, allSuspectInputs, rowFactor, columnFactor, signs);
        var length = outputs * s.Kernel;
        var referenceColumns = NormalizedRows(Columns(balancedReference, outputs, inputs, s.Kernel), inputs, length);
        var suspectColumns = NormalizedRows(Columns(suspectBalanced, outputs, s.Inputs, s.Kernel), s.Inputs, length);
        var host = CrossCosines(referenceColumns, suspectColumns, length);
        var score = host;
        if (signatureCosines is not null)
        {
            score = new double[host.Length];
            for (var e = 0; e < host.Length; e++)
            {
                score[e] = host[e] + signatureCosines[e];
            }
        }

        return (LinearAssignment.Solve(score, inputs, s.Inputs, maximize: true), host);
    }

    /// <summary>
    /// Without producer signatures: matches input channels by features blind to the order, sign and scale of
    /// the output filters and to the channel's own scale — per channel of the balanced weight, the k²×k² second
    /// moment Σ_o W[o,i]W[o,i]ᵀ over its trace, and quantiles of the filters' energies ‖W[o,i]‖².
    /// </summary>
    private static int[] InitialInputMatch(Weight r, Weight s)
    {
        var referenceFeatures = Features(r, out var dimensions);
        var suspectFeatures = Features(s, out _);
        // Standardise each feature by the reference's spread so that no feature family dominates.
        var scale = new double[dimensions];
        for (var d = 0; d < dimensions; d++)
        {
            double mean = 0, square = 0;
            for (var i = 0; i < r.Inputs; i++)
            {
                mean += referenceFeatures[(i * dimensions) + d];
            }

            mean /= r.Inputs;
            for (var i = 0; i < r.Inputs; i++)
            {
                var delta = referenceFeatures[(i * dimensions) + d] - mean;
                square += delta * delta;
            }

            var std = Math.Sqrt(square / r.Inputs);
            scale[d] = std > 1e-12 ? 1 / std : 0;
        }

        var costs = new double[r.Inputs * s.Inputs];
        for (var i = 0; i < r.Inputs; i++)
        {
            for (var j = 0; j < s.Inputs; j++)
            {
                var distance = 0.0;
                for (var d = 0; d < dimensions; d++)
                {
                    var delta = (referenceFeatures[(i * dimensions) + d] - suspectFeatures[(j * dimensions) + d]) * scale[d];
                    distance += delta * delta;
                }

                costs[(i * s.Inputs) + j] = distance;
            }
        }

        return LinearAssignment.Solve(costs, r.Inputs, s.Inputs);
    }

    private static double[] Features(Weight w, out int dimensions)
    {
        var k = w.Kernel;
        var gram = k > 1 ? k * (k + 1) / 2 : 0;
        dimensions = gram + Quantiles;
        var allOutputs = Identity(w.Outputs);
        var allInputs = Identity(w.Inputs);
        var (rowFactor, columnFactor) = Balance(w.Energy(allOutputs, allInputs), w.Outputs, w.Inputs);
        var b = w.Scaled(allOutputs, allInputs, rowFactor, columnFactor, null);
        var features = new double[w.Inputs * dimensions];
        var energies = new double[w.Outputs];
        var moment = new double[k * k];
        for (var i = 0; i < w.Inputs; i++)
        {
            Array.Clear(moment);
            for (var o = 0; o < w.Outputs; o++)
            {
                var slice = b.AsSpan(((o * w.Inputs) + i) * k, k);
                var energy = 0.0;
                for (var p = 0; p < k; p++)
                {
                    energy += slice[p] * slice[p];
                    for (var q = p; q < k; q++)
                    {
                        moment[(p * k) + q] += slice[p] * slice[q];
                    }
                }

                energies[o] = energy;
            }

            var row = features.AsSpan(i * dimensions, dimensions);
            var trace = 0.0;
            for (var p = 0; p < k; p++)
            {
                trace += moment[(p * k) + p];
            }

            var index = 0;
            for (var p = 0; p < k && gram > 0; p++)
            {
                for (var q = p; q < k; q++)
                {
                    row[index++] = trace > 0 ? moment[(p * k) + q] / trace : 0;
                }
            }

            Array.Sort(energies);
            var total = 0.0;
            foreach (var e in energies)
            {
                total += e;
            }

            var meanEnergy = total / w.Outputs;
            for (var q = 0; q < Quantiles; q++)
            {
                var position = (q + 0.5) / Quantiles * (w.Outputs - 1);
                var low = (int)Math.Floor(position);
                var high = Math.Min(low + 1, w.Outputs - 1);
                var value = energies[low] + ((position - low) * (energies[high] - energies[low]));
                row[gram + q] = meanEnergy > 0 ? value / meanEnergy : 0;
            }
        }

        return features;
    }

    /// <summary>
    /// Merges suspect input channels whose producer signatures are parallel (cosine ≥ threshold): channel j
    /// computes λ_j times the representative's activation, λ_j = ‖e_j‖ / ‖e_rep‖, so the host sees
    /// (Σ_j λ_j V_j) · activation_rep. Returns the merged weight, each merged channel's original channels
    /// (representative first) and the merged channels' unit signatures.
    /// </summary>
    private static (Weight Merged, int[][] Groups, double[]? Signatures) Merge(Weight s, ProducerSignature? producer, double threshold)
    {
        if (producer is null)
        {
            var singles = new int[s.Inputs][];
            for (var j = 0; j < s.Inputs; j++)
            {
                singles[j] = [j];
            }

            return (s, singles, null);
        }

        var unit = Normalized(producer);
        var cosines = CrossCosines(unit, unit, producer.Length);
        var parent = Identity(s.Inputs);
        int Find(int x)
        {
            while (parent[x] != x)
            {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }

            return x;
        }

        for (var a = 0; a < s.Inputs; a++)
        {
            for (var b = a + 1; b < s.Inputs; b++)
            {
                if (cosines[(a * s.Inputs) + b] >= threshold && PartsParallel(producer, a, b, threshold))
                {
                    parent[Find(b)] = Find(a);
                }
            }
        }

        var members = new Dictionary<int, List<int>>();
        var order = new List<int>();
        for (var j = 0; j < s.Inputs; j++)
        {
            var root = Find(j);
            if (!members.TryGetValue(root, out var list))
            {
                members[root] = list = [];
                order.Add(root);
            }

            list.Add(j);
        }

        var groups = new int[order.Count][];
        var merged = new double[s.Outputs * order.Count * s.Kernel];
        var signatures = new double[order.Count * producer.Length];
        for (var g = 0; g < order.Count; g++)
        {
            var list = members[order[g]];
            // The representative is the member with the strongest neuron, so that λ_j ≤ 1.
            var representative = list[0];
            foreach (var j in list)
            {
                if (Norm(producer.Row(j)) > Norm(producer.Row(representative)))
                {
                    representative = j;
                }
            }

            list.Remove(representative);
            list.Insert(0, representative);
            groups[g] = [.. list];
            var baseNorm = Norm(producer.Row(representative));
            foreach (var j in list)
            {
                var lambda = baseNorm > 0 ? Norm(producer.Row(j)) / baseNorm : 1;
                for (var o = 0; o < s.Outputs; o++)
                {
                    var source = s.Slice(o, j);
                    var target = merged.AsSpan(((o * order.Count) + g) * s.Kernel, s.Kernel);
                    for (var t = 0; t < s.Kernel; t++)
                    {
                        target[t] += lambda * source[t];
                    }
                }
            }

            unit.AsSpan(representative * producer.Length, producer.Length).CopyTo(signatures.AsSpan(g * producer.Length, producer.Length));
        }

        return (new Weight(merged, s.Outputs, order.Count, s.Kernel), groups, signatures);
    }

    /// <summary>
    /// Scales rows and columns of a non-negative energy matrix (Sinkhorn–Knopp) so that every row sums to
    /// the column count and every column to the row count; returns the factors for the slices (√ of the
    /// energy factors). Such a balanced weight is the same whatever positive scales the rows and columns had.
    /// </summary>
    private static (double[] Rows, double[] Columns) Balance(double[] energy, int rows, int columns)
    {
        var targetRows = new double[rows];
        var targetColumns = new double[columns];
        Array.Fill(targetRows, columns);
        Array.Fill(targetColumns, rows);
        return Fit(energy, rows, columns, targetRows, targetColumns);
    }

    /// <summary>RAS / Sinkhorn–Knopp: slice factors g, h with Σ_i g_o² h_i² E[o,i] = rows_o and Σ_o … = columns_i.</summary>
    private static (double[] Rows, double[] Columns) Fit(double[] energy, int rows, int columns, double[] targetRows, double[] targetColumns)
    {
        var mean = 0.0;
        foreach (var e in energy)
        {
            mean += e;
        }

        mean /= Math.Max(1, energy.Length);
        var g = new double[rows];
        var h = new double[columns];
        Array.Fill(g, 1.0);
        Array.Fill(h, 1.0);
        if (!(mean > 0))
        {
            return (g, h);
        }

        // A floor keeps all-zero slices (a merged NeuronClique) from dividing by zero.
        var floor = mean * 1e-12;
        for (var round = 0; round < 500; round++)
        {
            var change = 0.0;
            for (var o = 0; o < rows; o++)
            {
                var sum = 0.0;
                for (var i = 0; i < columns; i++)
                {
                    sum += h[i] * (energy[(o * columns) + i] + floor);
                }

                var next = targetRows[o] > 0 ? targetRows[o] / sum : 1;
                change = Math.Max(change, Math.Abs(Math.Log(next / g[o])));
                g[o] = next;
            }

            for (var i = 0; i < columns; i++)
            {
                var sum = 0.0;
                for (var o = 0; o < rows; o++)
                {
                    sum += g[o] * (energy[(o * columns) + i] + floor);
                }

                var next = targetColumns[i] > 0 ? targetColumns[i] / sum : 1;
                change = Math.Max(change, Math.Abs(Math.Log(next / h[i])));
                h[i] = next;
            }

            if (change < 1e-10)
            {
                break;
            }
        }

        for (var o = 0; o < rows; o++)
        {
            g[o] = Math.Sqrt(g[o]);
        }

        for (var i = 0; i < columns; i++)
        {
            h[i] = Math.Sqrt(h[i]);
        }

        return (g, h);
    }

    /// <summary>For each row, the best score minus the best score of another column (of its own matrix row).</summary>
    private static double[] Margins(double[] scores, int rows, int columns, int[] match)
    {
        var margins = new double[rows];
        for (var i = 0; i < rows; i++)
        {
            var chosen = scores[(i * columns) + match[i]];
            var other = double.NegativeInfinity;
            for (var j = 0; j < columns; j++)
            {
                if (j != match[i])
                {
                    other = Math.Max(other, scores[(i * columns) + j]);
                }
            }

            margins[i] = double.IsNegativeInfinity(other) ? chosen : chosen - other;
        }

        return margins;
    }

    private static double[] SliceCosines(double[] reference, double[] aligned, int outputs, int inputs, int kernel, bool byInput)
    {
        var count = byInput ? inputs : outputs;
        var dot = new double[count];
        var a = new double[count];
        var b = new double[count];
        for (var o = 0; o < outputs; o++)
        {
            for (var i = 0; i < inputs; i++)
            {
                var c = byInput ? i : o;
                var at = ((o * inputs) + i) * kernel;
                for (var t = 0; t < kernel; t++)
                {
                    dot[c] += reference[at + t] * aligned[at + t];
                    a[c] += reference[at + t] * reference[at + t];
                    b[c] += aligned[at + t] * aligned[at + t];
                }
            }
        }

        var cosines = new double[count];
        for (var c = 0; c < count; c++)
        {
            cosines[c] = a[c] > 0 && b[c] > 0 ? dot[c] / Math.Sqrt(a[c] * b[c]) : 0;
        }

        return cosines;
    }

    private static double Cosine(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        var na = Norm(a);
        var nb = Norm(b);
        return na > 0 && nb > 0 ? Dot(a, b) / (na * nb) : 0;
    }

    /// <summary>Rows × rows' cosines of two sets of unit rows of a given length.</summary>
    private static double[] CrossCosines(double[] a, double[] b, int length)
    {
        var rows = a.Length / Math.Max(1, length);
        var others = b.Length / Math.Max(1, length);
        var result = new double[rows * others];
        for (var i = 0; i < rows; i++)
        {
            var x = a.AsSpan(i * length, length);
            for (var j = 0; j < others; j++)
            {
                result[(i * others) + j] = Dot(x, b.AsSpan(j * length, length));
            }
        }

        return result;
    }

    /// <summary>
    /// Whether channels <paramref name="a"/> and <paramref name="b"/> are parallel in every part of their
    /// signature that has more than one value. A dead channel (γ ≈ 0 and β &lt; 0: its ReLU never opens) has a
    /// signature made of its bias term alone, so all dead channels look parallel as a whole; a fine-tuned
    /// WRN-10-2 had five in g2.block0.bn2, and merging them left fewer channels than the reference. Copies
    /// (NeuronSplit, NeuronClique) are parallel in the filter part too; dead channels' tiny filters are not.
    /// </summary>
    private static bool PartsParallel(ProducerSignature producer, int a, int b, double threshold)
    {
        foreach (var (offset, length) in producer.Segments)
        {
            if (length < 2)
            {
                continue;
            }

            var x = producer.Row(a).Slice(offset, length);
            var y = producer.Row(b).Slice(offset, length);
            var (nx, ny) = (Norm(x), Norm(y));
            if (nx == 0 && ny == 0)
            {
                continue;
            }

            if (nx == 0 || ny == 0 || Dot(x, y) / (nx * ny) < threshold)
            {
                return false;
            }
        }

        return true;
    }

    private static double[] Normalized(ProducerSignature signature)
    {
        var unit = new double[signature.Channels * signature.Length];
        for (var c = 0; c < signature.Channels; c++)
        {
            signature.Row(c).CopyTo(unit.AsSpan(c * signature.Length, signature.Length));
        }

        return NormalizedRows(unit, signature.Channels, signature.Length);
    }

    /// <summary>Scales each row to unit length in place (zero rows stay zero); returns the array.</summary>
    private static double[] NormalizedRows(double[] values, int rows, int length)
    {
        for (var i = 0; i < rows; i++)
        {
            var row = values.AsSpan(i * length, length);
            var norm = Norm(row);
            if (norm > 0)
            {
                for (var t = 0; t < length; t++)
                {
                    row[t] /= norm;
                }
            }
        }

        return values;
    }

    /// <summary>[O, I, k] → [I, O, k]: each input channel's slices over all filters, as one row.</summary>
    private static double[] Columns(double[] w, int outputs, int inputs, int kernel)
    {
        var result = new double[w.Length];
        for (var o = 0; o < outputs; o++)
        {
            for (var i = 0; i < inputs; i++)
            {
                w.AsSpan(((o * inputs) + i) * kernel, kernel).CopyTo(result.AsSpan(((i * outputs) + o) * kernel, kernel));
            }
        }

        return result;
    }

    private static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        var sum = 0.0;
        var i = 0;
        if (Vector.IsHardwareAccelerated && a.Length >= Vector<double>.Count)
        {
            var va = MemoryMarshal.Cast<double, Vector<double>>(a);
            var vb = MemoryMarshal.Cast<double, Vector<double>>(b);
            var acc = Vector<double>.Zero;
            for (var v = 0; v < va.Length; v++)
            {
                acc += va[v] * vb[v];
            }

            sum = Vector.Sum(acc);
            i = va.Length * Vector<double>.Count;
        }

        for (; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }

        return sum;
    }

    private static double Norm(ReadOnlySpan<double> a) => Math.Sqrt(Dot(a, a));

    private static int[] Identity(int n)
    {
        var result = new int[n];
        for (var i = 0; i < n; i++)
        {
            result[i] = i;
        }

        return result;
    }

    private static double[] Reciprocals(double[] values)
    {
        var result = new double[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            result[i] = 1 / values[i];
        }

        return result;
    }

    private static double[] ToDouble(ReadOnlySpan<float> values, string name)
    {
        var result = new double[values.Length];
        for (var e = 0; e < values.Length; e++)
        {
            if (!float.IsFinite(values[e]))
            {
                throw new ArgumentException($"The {name} weight holds a non-finite value at index {e}; it cannot be aligned.", name);
            }

            result[e] = values[e];
        }

        return result;
    }

    private static (int Outputs, int Inputs, int Kernel) Dimensions(IReadOnlyList<long> shape, int length, string shapeName, string valuesName)
    {
        ArgumentNullException.ThrowIfNull(shape, shapeName);
        if (shape.Count is not (2 or 4))
        {
            throw new ArgumentException($"A host weight is [O, I] (linear) or [O, I, k, k] (conv); {Capacity.ShapeText(shape)} was given.", shapeName);
        }

        long count = 1;
        foreach (var d in shape)
        {
            if (d <= 0)
            {
                throw new ArgumentException($"The shape {Capacity.ShapeText(shape)} has an empty axis.", shapeName);
            }

            count = checked(count * d);
        }

        if (count != length)
        {
            throw new ArgumentException($"A weight of shape {Capacity.ShapeText(shape)} has {count} values; {length} were given.", valuesName);
        }

        var kernel = shape.Count == 4 ? checked((int)(shape[2] * shape[3])) : 1;
        return (checked((int)shape[0]), checked((int)shape[1]), kernel);
    }

    /// <summary>A host weight as [Outputs, Inputs, Kernel] doubles.</summary>
    private sealed record Weight(double[] Values, int Outputs, int Inputs, int Kernel)
    {
        public ReadOnlySpan<double> Slice(int output, int input) => Values.AsSpan(((output * Inputs) + input) * Kernel, Kernel);

        /// <summary>‖W[rows[a], columns[b]]‖² as a rows.Length × columns.Length matrix.</summary>
        public double[] Energy(int[] rows, int[] columns)
        {
            var result = new double[rows.Length * columns.Length];
            for (var a = 0; a < rows.Length; a++)
            {
                for (var b = 0; b < columns.Length; b++)
                {
                    var slice = Slice(rows[a], columns[b]);
                    result[(a * columns.Length) + b] = Dot(slice, slice);
                }
            }

            return result;
        }

        /// <summary>The sub-weight W[rows, columns] with slice (a, b) multiplied by sign_a·g_a·h_b.</summary>
        public double[] Scaled(int[] rows, int[] columns, double[] rowFactor, double[] columnFactor, int[]? signs)
        {
            var result = new double[rows.Length * columns.Length * Kernel];
            for (var a = 0; a < rows.Length; a++)
            {
                for (var b = 0; b < columns.Length; b++)
                {
                    var factor = rowFactor[a] * columnFactor[b] * (signs is null ? 1 : signs[a]);
                    var source = Slice(rows[a], columns[b]);
                    var target = result.AsSpan(((a * columns.Length) + b) * Kernel, Kernel);
                    for (var t = 0; t < Kernel; t++)
                    {
                        target[t] = factor * source[t];
                    }
                }
            }

            return result;
        }
    }
}
