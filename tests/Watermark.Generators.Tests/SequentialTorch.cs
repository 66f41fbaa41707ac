using Xunit;

namespace Watermark.Generators.Tests;

/// <summary>Torch's RNG and thread settings are process-wide: tests that touch them run one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SequentialTorch
{
    public const string Name = "torch";
}
