using System;
using System.Collections.Generic;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace Watermark.Cli;

/// <summary>
/// Maps items on a fixed number of worker threads and hands the results to one consumer, on the calling thread, in
/// the items' order as soon as each is ready. Workers stay at most a small window ahead of the consumer, so memory
/// holds a bounded number of results however many items there are, and one slow item delays output but not work.
/// </summary>
internal static class OrderedParallel
{
    /// <summary>
    /// Runs <paramref name="map"/> on every item with <paramref name="workers"/> threads and calls <paramref name="consume"/>
    /// with the results in order. An exception from <paramref name="map"/> is rethrown here, at its item's turn, and stops the rest.
    /// </summary>
    public static void Run<TIn, TOut>(IReadOnlyList<TIn> items, int workers, Func<TIn, TOut> map, Action<TOut> consume)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        var window = workers * 2;
        var ready = new (bool Done, TOut Value, ExceptionDispatchInfo? Error)[window];
        var gate = new object();
        var next = 0;
        var consumed = 0;
        var stop = false;

        void Work()
        {
            while (true)
            {
                int index;
                lock (gate)
                {
                    // The next item is taken only when its slot in the window is free (everything a window back has been consumed).
                    while (!stop && next < items.Count && next >= consumed + window)
                    {
                        Monitor.Wait(gate);
                    }

                    if (stop || next >= items.Count)
                    {
                        return;
                    }

                    index = next++;
                }

                (bool, TOut, ExceptionDispatchInfo?) result;
                try
                {
                    result = (true, map(items[index]), null);
                }
                catch (Exception e)
                {
                    result = (true, default!, ExceptionDispatchInfo.Capture(e));
                }

                lock (gate)
                {
                    ready[index % window] = result;
                    Monitor.PulseAll(gate);
                }
            }
        }

        var threads = new List<Thread>();
        for (var i = 0; i < Math.Min(workers, items.Count); i++)
        {
            var thread = new Thread(Work) { IsBackground = true, Name = $"scan worker {i}" };
            threads.Add(thread);
            thread.Start();
        }

        try
        {
            for (var i = 0; i < items.Count; i++)
            {
                (bool Done, TOut Value, ExceptionDispatchInfo? Error) result;
                lock (gate)
                {
                    while (!ready[i % window].Done)
                    {
                        Monitor.Wait(gate);
                    }

                    result = ready[i % window];
                    ready[i % window] = default;
                    consumed++;
                    Monitor.PulseAll(gate);
                }

                result.Error?.Throw();
                consume(result.Value);
            }
        }
        finally
        {
            lock (gate)
            {
                stop = true;
                Monitor.PulseAll(gate);
            }

            foreach (var thread in threads)
            {
                thread.Join();
            }
        }
    }
}
