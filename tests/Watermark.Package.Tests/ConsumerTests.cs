using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace Watermark.Package.Tests;

/// <summary>
/// The issue's "done when": a new project that adds Watermark.TorchSharp from a local folder builds,
/// shows WMK001 for Bits = 600 on Conv2d(64, 64, 3) (M = 576) and not for Bits = 256, and its
/// generated methods embed and extract a mark.
/// </summary>
public sealed partial class ConsumerTests(ITestOutputHelper output) : IDisposable
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
        try
        {
            new Oversized().WatermarkSlots.Single().CreateKey();
        }
        catch (ArgumentException e)
        {
            Console.WriteLine($"runtime: {e.Message}");
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

    private readonly string root = Directory.CreateTempSubdirectory("wmk-consumer-").FullName;

    [Fact]
    [Trait("Category", "Package")]
    public void AConsumerOfThePackageGetsTheGeneratorTheAnalyzerAndAWorkingMark()
    {
        var repository = RepositoryRoot();
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        var feed = Path.Combine(root, "feed");
        foreach (var project in new[] { "src/Watermark.Core", "src/Watermark.Runtime" })
        {
            Dotnet(repository, $"pack {project} -c {configuration} -o {feed} -p:NuGetAudit=false");
        }

        Assert.True(File.Exists(Path.Combine(feed, "Watermark.TorchSharp.0.1.0.nupkg")), "the package was not produced");
        using (var package = System.IO.Compression.ZipFile.OpenRead(Path.Combine(feed, "Watermark.TorchSharp.0.1.0.nupkg")))
        {
            var analyzers = package.Entries.Select(e => e.FullName).Where(n => n.StartsWith("analyzers/dotnet/cs/", StringComparison.Ordinal)).Order();
            Assert.Equal(["analyzers/dotnet/cs/Watermark.Analyzers.CodeFixes.dll", "analyzers/dotnet/cs/Watermark.Analyzers.dll", "analyzers/dotnet/cs/Watermark.Generators.dll"], analyzers);
        }

        // A project outside the repository: none of its props apply. Its own packages folder keeps the
        // machine's cache free of these test builds; TorchSharp comes from that cache as a fallback.
        var consumer = Path.Combine(root, "Consumer");
        Directory.CreateDirectory(consumer);
        var globalPackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        File.WriteAllText(Path.Combine(consumer, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <NuGetAudit>false</NuGetAudit>
                <RestorePackagesPath>{Path.Combine(root, "packages")}</RestorePackagesPath>
                <RestoreAdditionalProjectFallbackFolders>{globalPackages}</RestoreAdditionalProjectFallbackFolders>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Watermark.TorchSharp" Version="0.1.0" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(consumer, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="local" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(consumer, "Program.cs"), ConsumerProgram);

        var build = Dotnet(consumer, "build -c Release");
        var capacity = CapacityWarning().Matches(build).Select(m => m.Value).Distinct().ToArray();
        var warning = Assert.Single(capacity);
        var line = ConsumerProgram.Split('\n').ToList().FindIndex(l => l.Contains("Bits = 600", StringComparison.Ordinal)) + 1;
        Assert.Contains($"Program.cs({line},", warning, StringComparison.Ordinal);
        Assert.Contains("Watermark of 600 bits does not fit 'Oversized.conv2': its filter mean has M = 576 entries", warning, StringComparison.Ordinal);
        Assert.DoesNotContain("Block.conv2", build, StringComparison.Ordinal);

        var run = Dotnet(consumer, "run -c Release --no-build");
        Assert.Contains("conv2.weight M=576 present: 256/256 bits, BER 0.000", run, StringComparison.Ordinal);
        Assert.Contains("runtime: Watermark of 600 bits does not fit 'conv2.weight': its filter mean has M = 576 entries", run, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (IOException e)
        {
            output.WriteLine($"could not remove {root}: {e.Message}");
        }
    }

    [GeneratedRegex(@"\S+\(\d+,\d+\): warning WMK001: [^\[\r\n]+")]
    private static partial Regex CapacityWarning();

    private string Dotnet(string directory, string arguments)
    {
        var start = new ProcessStartInfo("dotnet", arguments)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var text = stdout + stderr.Result;
        output.WriteLine($"$ dotnet {arguments}\n{text}");
        Assert.True(process.ExitCode == 0, $"'dotnet {arguments}' in {directory} exited with {process.ExitCode}:\n{text}");
        return text;
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Plugin.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"Plugin.sln not found above {AppContext.BaseDirectory}.");
    }
}
