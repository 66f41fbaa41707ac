using System;

namespace Watermark.Alignment;

/// <summary>
/// Exact rectangular linear assignment: for an n×m cost matrix, picks min(n, m) entries, at most one per
/// row and per column, with the least (or greatest) total. The shortest augmenting path method of
/// Jonker and Volgenant in the rectangular form of Crouse ("On implementing 2D rectangular assignment
/// algorithms", IEEE TAES 2016), the algorithm behind SciPy's <c>linear_sum_assignment</c>: one
/// Dijkstra-like search with dual potentials per row, O(n²m) in all.
/// </summary>
public static class LinearAssignment
{
    /// <summary>
    /// Solves the problem for a row-major <paramref name="rows"/>×<paramref name="columns"/> cost matrix.
    /// Returns, for each row, the column it is assigned, or −1 where there are more rows than columns and
    /// the row is left out. Costs must be finite: NaN and ±∞ are refused with an <see cref="ArgumentException"/>.
    /// </summary>
    public static int[] Solve(ReadOnlySpan<double> costs, int rows, int columns, bool maximize = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(columns);
        if ((long)rows * columns != costs.Length)
        {
            throw new ArgumentException($"A {rows}×{columns} cost matrix has {(long)rows * columns} entries; {costs.Length} were given.", nameof(costs));
        }

        for (var e = 0; e < costs.Length; e++)
        {
            if (!double.IsFinite(costs[e]))
            {
                throw new ArgumentException($"Cost ({e / columns}, {e % columns}) is {costs[e]}; an assignment needs finite costs (use a large finite value to forbid a pair).", nameof(costs));
            }
        }

        var transpose = rows > columns;
        var n = transpose ? columns : rows;
        var m = transpose ? rows : columns;
        var c = new double[(long)n * m];
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < columns; j++)
            {
                var value = maximize ? -costs[(i * columns) + j] : costs[(i * columns) + j];
                if (transpose)
                {
                    c[(j * m) + i] = value;
                }
                else
                {
                    c[(i * m) + j] = value;
                }
            }
        }

        var columnOfRow = SolveWide(c, n, m);
        var result = new int[rows];
        if (!transpose)
        {
            columnOfRow.CopyTo(result, 0);
            return result;
        }

        Array.Fill(result, -1);
        for (var j = 0; j < n; j++)
        {
            result[columnOfRow[j]] = j;
        }

        return result;
    }

    /// <summary>As <see cref="Solve(ReadOnlySpan{double}, int, int, bool)"/> for a two-dimensional array.</summary>
    public static int[] Solve(double[,] costs, bool maximize = false)
    {
        ArgumentNullException.ThrowIfNull(costs);
        var rows = costs.GetLength(0);
        var columns = costs.GetLength(1);
        var flat = new double[rows * columns];
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < columns; j++)
            {
                flat[(i * columns) + j] = costs[i, j];
            }
        }

        return Solve(flat, rows, columns, maximize);
    }

    /// <summary>The total of the entries an assignment (as <see cref="Solve(ReadOnlySpan{double}, int, int, bool)"/> returns it) picks.</summary>
    public static double Total(ReadOnlySpan<double> costs, int columns, ReadOnlySpan<int> assignment)
    {
        var total = 0.0;
        for (var i = 0; i < assignment.Length; i++)
        {
            if (assignment[i] >= 0)
            {
                total += costs[(i * columns) + assignment[i]];
            }
        }

        return total;
    }

    /// <summary>Minimises over an n×m matrix with n ≤ m; returns each row's column.</summary>
    private static int[] SolveWide(double[] cost, int n, int m)
    {
        var u = new double[n];
        var v = new double[m];
        var shortest = new double[m];
        var path = new int[m];
        var columnOfRow = new int[n];
        var rowOfColumn = new int[m];
        var visitedRow = new bool[n];
        var visitedColumn = new bool[m];
        var remaining = new int[m];
        Array.Fill(columnOfRow, -1);
        Array.Fill(rowOfColumn, -1);
        Array.Fill(path, -1);

        for (var current = 0; current < n; current++)
        {
            // Dijkstra over reduced costs from the free row `current` to the nearest free column.
            var minimum = 0.0;
            var left = m;
            for (var k = 0; k < m; k++)
            {
                remaining[k] = m - k - 1;
            }

            Array.Clear(visitedRow);
            Array.Clear(visitedColumn);
            Array.Fill(shortest, double.PositiveInfinity);
            var sink = -1;
            var i = current;
            while (sink == -1)
            {
                var index = -1;
                var lowest = double.PositiveInfinity;
                visitedRow[i] = true;
                for (var k = 0; k < left; k++)
                {
                    var j = remaining[k];
                    var reduced = minimum + cost[(i * m) + j] - u[i] - v[j];
                    if (reduced < shortest[j])
                    {
                        path[j] = i;
                        shortest[j] = reduced;
                    }

                    // Ties go to a free column, which ends the search early.
                    if (shortest[j] < lowest || (shortest[j] == lowest && rowOfColumn[j] == -1))
                    {
                        lowest = shortest[j];
                        index = k;
                    }
                }

                minimum = lowest;
                if (index < 0 || double.IsInfinity(minimum))
                {
                    // Unreachable with finite costs; kept so that a bug cannot loop forever.
                    throw new InvalidOperationException("The assignment search found no augmenting path.");
                }

                var column = remaining[index];
                if (rowOfColumn[column] == -1)
                {
                    sink = column;
                }
                else
                {
                    i = rowOfColumn[column];
                }

                visitedColumn[column] = true;
                remaining[index] = remaining[--left];
            }

            // Update the dual potentials, then augment along the path back to `current`.
            u[current] += minimum;
            for (var r = 0; r < n; r++)
            {
                if (visitedRow[r] && r != current)
                {
                    u[r] += minimum - shortest[columnOfRow[r]];
                }
            }

            for (var j = 0; j < m; j++)
            {
                if (visitedColumn[j])
                {
                    v[j] -= minimum - shortest[j];
                }
            }

            var cursor = sink;
            while (true)
            {
                var r = path[cursor];
                rowOfColumn[cursor] = r;
                (columnOfRow[r], cursor) = (cursor, columnOfRow[r]);
                if (r == current)
                {
                    break;
                }
            }
        }

        return columnOfRow;
    }
}
