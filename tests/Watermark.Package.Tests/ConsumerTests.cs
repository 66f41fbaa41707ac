using System;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Xunit;
using Xunit.Abstractions;

namespace Watermark.Package.Tests;

/// <summary>
/// The issue's "done when", on the packages the README's <c>./build.sh pack</c> makes: a new project
/// that adds Watermark.TorchSharp and libtorch-cpu-linux-x64 from a local folder builds with warnings
/// as errors, shows WMK001 for Bits = 600 on Conv2d(64, 64, 3) (M = 576) and not for Bits = 256, embeds
/// and extracts a mark, and the packed <c>watermark</c> tool verifies the model it saved; a project
/// that adds Watermark.TorchSharp alone (as a CUDA user would, beside a CUDA libtorch) gets no libtorch-cpu.
/// </summary>
[Collection(nameof(PackedFeed))]
public sealed partial class ConsumerTests(PackedFeed feed, ITestOutputHelper output)
{
    private const string ConsumerProgram = """
        using System;
        using System.Linq;
        using TorchSharp;
        using TorchSharp.Modules;
        using Watermark;
        using static TorchSharp.torch;

        torch.manual_seed(2017);
        using var block = new Block();
        var slot = block.WatermarkSlots.Single();
        var keyring = new Keyring(slot.CreateKey(Message.FromText("ACME")));
        using var optimizer = optim.Adam(block.parameters(), 0.01);
        for (var step = 0; step < 100; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            block.WatermarkLoss(keyring).backward();
            optimizer.step();
        }

        var result = block.ExtractWatermark(keyring);
        Console.WriteLine($"{slot.Parameter} M={slot.FilterMeanLength} {result}");
        block.save(args[0]);
        keyring.Save(args[1]);
        try
        {
            new Oversized().WatermarkSlots.Single().CreateKey();
        }
        catch (ArgumentException e)
        {
            Console.WriteLine($"runtime: {e.Message}");
        }

        // A derived module keeps its base's mark beside its own (the generator chains them); slots come in
        // state_dict order, where TorchSharp registers the derived type's fields first.
        using var derived = new Derived();
        var derivedSlots = string.Join(", ", derived.WatermarkSlots.Select(s => s.Parameter).Order());
        Console.WriteLine($"derived slots: {derivedSlots}");
        if (derivedSlots != "conv1.weight, conv2.weight")
        {
            return 3;
        }

        return result.IsPresent && result.BitErrorRate == 0 ? 0 : 1;

        public sealed partial class Block : nn.Module<Tensor, Tensor>
        {
            [Watermark(Bits = 256, Key = KeyKind.Random)]
            private readonly Conv2d conv2;

            public Block() : base(nameof(Block))
            {
                conv2 = nn.Conv2d(64, 64, 3);
                RegisterComponents();
            }

            public override Tensor forward(Tensor input) => conv2.forward(input);
        }

        public sealed partial class Oversized : nn.Module<Tensor, Tensor>
        {
            [Watermark(Bits = 600)]
            private readonly Conv2d conv2 = nn.Conv2d(64, 64, 3);

            public Oversized() : base(nameof(Oversized)) => RegisterComponents();

            public override Tensor forward(Tensor input) => conv2.forward(input);
        }
        """;

    // Inheritance and file-local types next to marked modules: cases that once broke the generator (#16).
    private const string ConsumerModules = """
        using TorchSharp.Modules;
        using Watermark;
        using static TorchSharp.torch;

        public partial class Base : nn.Module<Tensor, Tensor>
        {
            [Watermark(Bits = 64)]
            protected readonly Conv2d conv1 = nn.Conv2d(16, 32, 3);

            protected Base(string name) : base(name) { }

            public override Tensor forward(Tensor input) => conv1.forward(input);
        }

        public sealed partial class Derived : Base
        {
            [Watermark(Bits = 128)]
            private readonly Conv2d conv2 = nn.Conv2d(32, 32, 3);

            public Derived() : base(nameof(Derived)) => RegisterComponents();

            public override Tensor forward(Tensor input) => conv2.forward(Scratch.Twice(base.forward(input)));
        }

        file static class Scratch
        {
            public static Tensor Twice(Tensor x) => x * 2;
        }

        file sealed class Unmarked : nn.Module<Tensor, Tensor>
        {
            public Unmarked() : base(nameof(Unmarked)) { }

            public override Tensor forward(Tensor input) => input;
        }
        """;

    [Fact]
    [Trait("Category", "Package")]
    public void ThePackagesCarryTheirMetadataTheAnalyzersAndNoNativeLibTorch()
    {
        foreach (var id in new[] { "Watermark.Core", "Watermark.TorchSharp", "Watermark.Cli" })
        {
            Assert.True(File.Exists(feed.Package(id, "snupkg")), $"{id}: no symbol package beside {feed.Package(id)}");
            using var package = ZipFile.OpenRead(feed.Package(id));
            var entries = package.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
            var nuspec = Nuspec(package);
            var metadata = nuspec.Element(nuspec.Name.Namespace + "metadata")!;
            string? Field(string name) => metadata.Element(metadata.Name.Namespace + name)?.Value;
            Assert.Equal(feed.Version, Field("version"));
            Assert.Equal("MIT", Field("license"));
            Assert.Contains(Field("readme")!, entries);
            Assert.Contains(Field("icon")!, entries);
            Assert.Contains("torchsharp", Field("tags")!, StringComparison.Ordinal);
            Assert.False(string.IsNullOrWhiteSpace(Field("description")), $"{id} has no description");
        }

        using (var library = ZipFile.OpenRead(feed.Package("Watermark.TorchSharp")))
        {
            var analyzers = library.Entries.Select(e => e.FullName).Where(n => n.StartsWith("analyzers/", StringComparison.Ordinal)).Order();
            Assert.Equal(["analyzers/dotnet/cs/Watermark.Analyzers.CodeFixes.dll", "analyzers/dotnet/cs/Watermark.Analyzers.dll", "analyzers/dotnet/cs/Watermark.Generators.dll"], analyzers);
            Assert.Contains("lib/net10.0/Watermark.TorchSharp.dll", library.Entries.Select(e => e.FullName));

            // The plugin only: CIFAR readers, the dataset download and the sample's memory tuning stay in the sample.
            using (var dll = new MemoryStream())
            {
                using (var entry = library.GetEntry("lib/net10.0/Watermark.TorchSharp.dll")!.Open())
                {
                    entry.CopyTo(dll);
                }

                var metadata = System.Text.Encoding.UTF8.GetString(dll.ToArray());
                foreach (var sampleOnly in new[] { "Cifar", "ImageDataset", "BatchLoader", "NativeAllocator", "malloc_trim", "clear_refs" })
                {
                    Assert.DoesNotContain(sampleOnly, metadata, StringComparison.Ordinal);
                }
            }

            // The managed TorchSharp only: the application picks libtorch-cpu or a CUDA libtorch.
            var nuspec = Nuspec(library);
            var dependencies = nuspec.Descendants(nuspec.Name.Namespace + "dependency").Select(d => $"{d.Attribute("id")!.Value} {d.Attribute("version")!.Value}").Order();
            Assert.Equal(["TorchSharp 0.107.0", $"Watermark.Core {feed.Version}"], dependencies);
        }
    }

    [Fact]
    [Trait("Category", "Package")]
    public void AConsumerOfThePackageGetsTheGeneratorTheAnalyzerAWorkingMarkAndTheTool()
    {
        var consumer = feed.Consumer("Consumer", $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                <!-- Oversized is there to show WMK001: a warning, as the package reports it. -->
                <WarningsNotAsErrors>WMK001</WarningsNotAsErrors>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Watermark.TorchSharp" Version="{feed.Version}" />
                <PackageReference Include="libtorch-cpu-linux-x64" Version="2.10.0" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(consumer, "Program.cs"), ConsumerProgram);
        File.WriteAllText(Path.Combine(consumer, "Modules.cs"), ConsumerModules);

        var build = feed.Dotnet(output, consumer, "build -c Release");
        var capacity = CapacityWarning().Matches(build).Select(m => m.Value).Distinct().ToArray();
        var warning = Assert.Single(capacity);
        var line = ConsumerProgram.Split('\n').ToList().FindIndex(l => l.Contains("Bits = 600", StringComparison.Ordinal)) + 1;
        Assert.Contains($"Program.cs({line},", warning, StringComparison.Ordinal);
        Assert.Contains("Watermark of 600 bits does not fit 'Oversized.conv2': its filter mean has M = 576 entries", warning, StringComparison.Ordinal);
        Assert.DoesNotContain("Block.conv2", build, StringComparison.Ordinal);
        Assert.Equal([feed.Version], Restored(consumer, "Watermark.TorchSharp"));

        var model = Path.Combine(feed.Root, "consumer.dat");
        var key = Path.Combine(feed.Root, "consumer.key.json");
        var run = feed.Dotnet(output, consumer, $"run -c Release --no-build -- {model} {key}");
        Assert.Contains("conv2.weight M=576 present: 256/256 bits, BER 0.000", run, StringComparison.Ordinal);
        Assert.Contains("runtime: Watermark of 600 bits does not fit 'conv2.weight': its filter mean has M = 576 entries", run, StringComparison.Ordinal);

        var tools = Path.Combine(feed.Root, "tools");
        feed.Dotnet(output, consumer, $"tool install Watermark.Cli --version {feed.Version} --tool-path {tools} --configfile {Path.Combine(consumer, "nuget.config")}");
        var watermark = Path.Combine(tools, "watermark");
        Assert.Contains("verify", feed.Run(output, consumer, watermark, "--help"), StringComparison.Ordinal);
        var verify = feed.Run(output, consumer, watermark, $"verify --model {model} --key {key}");
        Assert.Contains("verdict: PRESENT", verify, StringComparison.Ordinal);
        Assert.Contains("message: \"ACME\"", verify, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Category", "Package")]
    public void AProjectWithTheLibraryAloneGetsNoLibTorchSoACudaUserCanAddTheirs()
    {
        var consumer = feed.Consumer("TorchSharpOnly", $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Watermark.TorchSharp" Version="{feed.Version}" />
              </ItemGroup>
            </Project>
            """);

        feed.Dotnet(output, consumer, "restore");
        var libraries = Libraries(consumer);
        Assert.Contains("TorchSharp/0.107.0", libraries);
        Assert.Contains($"Watermark.Core/{feed.Version}", libraries);
        Assert.DoesNotContain(libraries, l => l.StartsWith("libtorch", StringComparison.OrdinalIgnoreCase) || l.StartsWith("TorchSharp-", StringComparison.OrdinalIgnoreCase));
    }

    private static XElement Nuspec(ZipArchive package)
    {
        using var stream = package.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
        return XDocument.Load(stream).Root!;
    }

    /// <summary>Every "id/version" in the restored graph of <paramref name="project"/>.</summary>
    private static string[] Libraries(string project)
    {
        using var assets = JsonDocument.Parse(File.ReadAllText(Path.Combine(project, "obj", "project.assets.json")));
        return [.. assets.RootElement.GetProperty("libraries").EnumerateObject().Select(p => p.Name)];
    }

    private static string[] Restored(string project, string id) =>
        [.. Libraries(project).Where(l => l.StartsWith(id + "/", StringComparison.Ordinal)).Select(l => l[(id.Length + 1)..])];

    [GeneratedRegex(@"\S+\(\d+,\d+\): warning WMK001: [^\[\r\n]+")]
    private static partial Regex CapacityWarning();
}
