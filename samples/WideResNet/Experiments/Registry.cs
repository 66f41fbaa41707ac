using System.Collections.Immutable;
using System.Linq;

namespace WideResNet.Experiments;

/// <summary>Every experiment, by name: the commands, their help lines and REPORT.md's sections come from here.</summary>
internal static class Registry
{
    /// <summary>The experiments, in REPORT.md's order: the paper's §4 tables, its §4.3/§5 robustness study, then ours beyond it.</summary>
    public static ImmutableArray<Experiment> All { get; } =
    [
        new Table4(), new DiffKey(), new Schedule(), new Table5a(), new Table5b(), new Table5c(), new Table7(),
        new Table6(), new Table8(), new Pruning(), new Overwrite(), new Multilayer(), new Transforms(), new Payload(), new AlignNull(), new Removal(), new NoReference(),
    ];

    public static ImmutableArray<string> Names { get; } = [.. All.Select(e => e.Name)];

    /// <summary>The experiment called <paramref name="name"/>, or null.</summary>
    public static Experiment? Find(string name) => All.FirstOrDefault(e => e.Name == name);
}
