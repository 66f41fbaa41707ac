using System;
using System.Diagnostics;
using System.Linq;
using Watermark.Alignment;
using Xunit;

namespace Watermark.Tests;

public class LinearAssignmentTests
{
    /// <summary>The optimum over every injective map of rows to columns (rows ≤ columns), by enumeration.</summary>
    private static double BruteForce(double[] costs, int rows, int columns, bool maximize)
    {
        var best = maximize ? double.NegativeInfinity : double.PositiveInfinity;
        var used = new bool[columns];
        void Walk(int row, double total)
        {
            if (row == rows)
            {
                best = maximize ? Math.Max(best, total) : Math.Min(best, total);
                return;
            }

            for (var j = 0; j < columns; j++)
            {
                if (!used[j])
                {
                    used[j] = true;
                    Walk(row + 1, total + costs[(row * columns) + j]);
                    used[j] = false;
                }
            }
        }

        Walk(0, 0);
        return best;
    }

    private static void AssertValid(int[] assignment, int rows, int columns)
    {
        Assert.Equal(rows, assignment.Length);
        var taken = assignment.Where(j => j >= 0).ToArray();
        Assert.Equal(Math.Min(rows, columns), taken.Length);
        Assert.Equal(taken.Length, taken.Distinct().Count());
        Assert.All(taken, j => Assert.InRange(j, 0, columns - 1));
    }

    private static double[] Transpose(double[] costs, int rows, int columns)
    {
        var t = new double[costs.Length];
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < columns; j++)
            {
                t[(j * rows) + i] = costs[(i * columns) + j];
            }
        }

        return t;
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 3)]
    [InlineData(5, 5)]
    [InlineData(7, 7)]
    [InlineData(4, 7)]
    [InlineData(2, 6)]
    [InlineData(7, 4)]
    [InlineData(6, 1)]
    public void MatchesBruteForceOnRandomMatrices(int rows, int columns)
    {
        var random = new Random((rows * 100) + columns);
        for (var trial = 0; trial < 60; trial++)
        {
            // Every third matrix draws small integers, so that ties between optima are common.
            var costs = Enumerable.Range(0, rows * columns)
                .Select(_ => trial % 3 == 0 ? random.Next(4) : (random.NextDouble() * 200) - 100)
                .ToArray();
            foreach (var maximize in new[] { false, true })
            {
                var assignment = LinearAssignment.Solve(costs, rows, columns, maximize);
                AssertValid(assignment, rows, columns);
                var expected = rows <= columns
                    ? BruteForce(costs, rows, columns, maximize)
                    : BruteForce(Transpose(costs, rows, columns), columns, rows, maximize);
                Assert.Equal(expected, LinearAssignment.Total(costs, columns, assignment), 9);
            }
        }
    }

    [Fact]
    public void SolvesHandCases()
    {
        // The classic 3×3 example: rows 0, 1, 2 → columns 1, 0, 2 at cost 1 + 2 + 2 = 5.
        double[,] costs = { { 4, 1, 3 }, { 2, 0, 5 }, { 3, 2, 2 } };
        Assert.Equal([1, 0, 2], LinearAssignment.Solve(costs));
        // Maximising the same matrix: 0→0 (4), 1→2 (5), 2→1 (2) = 11.
        Assert.Equal([0, 2, 1], LinearAssignment.Solve(costs, maximize: true));
        // Rectangular: the two rows want the same column; the cheaper overall split wins.
        double[,] wide = { { 1, 10, 10, 3 }, { 1, 10, 10, 8 } };
        Assert.Equal([3, 0], LinearAssignment.Solve(wide));
        // Tall: the transpose; the row left out gets −1.
        double[,] tall = { { 1, 1 }, { 10, 10 }, { 10, 10 }, { 3, 8 } };
        Assert.Equal([1, -1, -1, 0], LinearAssignment.Solve(tall));
    }

    [Fact]
    public void HandlesDegenerateMatrices()
    {
        Assert.Equal([0], LinearAssignment.Solve(new double[,] { { -3.5 } }));
        Assert.Empty(LinearAssignment.Solve([], 0, 0));
        Assert.Equal([-1, -1], LinearAssignment.Solve([], 2, 0));
        var equal = Enumerable.Repeat(2.0, 36).ToArray();
        var assignment = LinearAssignment.Solve(equal, 6, 6);
        AssertValid(assignment, 6, 6);
        Assert.Equal(12.0, LinearAssignment.Total(equal, 6, assignment));
    }

    [Fact]
    public void RefusesNonFiniteCostsAndWrongSizes()
    {
        foreach (var bad in new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity })
        {
            var e = Assert.Throws<ArgumentException>(() => LinearAssignment.Solve([1, 2, bad, 4], 2, 2));
            Assert.Contains("(1, 0)", e.Message, StringComparison.Ordinal);
            Assert.Contains("finite", e.Message, StringComparison.Ordinal);
        }

        Assert.Throws<ArgumentException>(() => LinearAssignment.Solve([1, 2, 3], 2, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => LinearAssignment.Solve([], -1, 0));
    }

    [Fact]
    public void RecoversAHiddenPermutationAt512()
    {
        // A 512×512 cost that is small exactly on a hidden permutation: the solver must find it, fast.
        const int n = 512;
        var random = new Random(5);
        var hidden = Enumerable.Range(0, n).OrderBy(_ => random.Next()).ToArray();
        var costs = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                costs[(i * n) + j] = 1 + random.NextDouble();
            }

            costs[(i * n) + hidden[i]] = random.NextDouble() * 0.5;
        }

        var clock = Stopwatch.StartNew();
        var assignment = LinearAssignment.Solve(costs, n, n);
        clock.Stop();
        Assert.Equal(hidden, assignment);
        // A fully random 512×512 matrix, the harder case for augmenting paths: it must finish too.
        var noise = Enumerable.Range(0, n * n).Select(_ => random.NextDouble()).ToArray();
        AssertValid(LinearAssignment.Solve(noise, n, n), n, n);
        Console.WriteLine($"512×512 planted: {clock.Elapsed.TotalMilliseconds:0} ms");
    }
}
