using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using Xunit;
using Xunit.Abstractions;

namespace Watermark.Package.Tests;

/// <summary>
/// One <c>./build.sh pack</c> (the README's command) into a temporary folder, shared by the package
/// tests, and consumer projects restored from it. Consumers restore offline into an empty packages
/// folder: our packages can only come from this pack (their version is new with every pack), while
/// TorchSharp and libtorch come from the machine's packages folder as a fallback, so nothing is
/// downloaded again.
/// </summary>
public sealed class PackedFeed : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(15);

    public PackedFeed()
    {
        Root = Directory.CreateTempSubdirectory("wmk-package-").FullName;
        Feed = Path.Combine(Root, "feed");
        Packages = Path.Combine(Root, "packages");
        var repository = RepositoryRoot();
        var (exitCode, text) = Execute(repository, "bash", $"build.sh pack {Feed}", []);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"./build.sh pack {Feed} exited with {exitCode}:\n{text}");
        }

        var library = Directory.GetFiles(Feed, "Watermark.TorchSharp.*.nupkg").Single();
        Version = Path.GetFileNameWithoutExtension(library)["Watermark.TorchSharp.".Length..];
    }

    public string Root { get; }

    public string Feed { get; }

    /// <summary>The version of this pack, e.g. 0.1.0-dev.20261201120000.</summary>
    public string Version { get; }

    /// <summary>The consumers' packages folder: empty before their first restore.</summary>
    private string Packages { get; }

    /// <summary>Where this machine's restores put TorchSharp and libtorch.</summary>
    private static string MachinePackages =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    public string Package(string id, string extension = "nupkg") => Path.Combine(Feed, $"{id}.{Version}.{extension}");

    /// <summary>
    /// A project outside the repository (none of its props apply) whose nuget.config knows the pack
    /// and, as a fallback folder, the machine's packages: nothing else, so its restore is offline.
    /// </summary>
    public string Consumer(string name, string project)
    {
        var directory = Path.Combine(Root, name);
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, $"{name}.csproj"), project);
        File.WriteAllText(Path.Combine(directory, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="pack" value="{Feed}" />
              </packageSources>
              <fallbackPackageFolders>
                <clear />
                <add key="machine" value="{MachinePackages}" />
              </fallbackPackageFolders>
              <config>
                <add key="globalPackagesFolder" value="{Packages}" />
              </config>
            </configuration>
            """);
        // Offline: there is no vulnerability database to ask.
        File.WriteAllText(Path.Combine(directory, "Directory.Build.props"), """
            <Project>
              <PropertyGroup>
                <NuGetAudit>false</NuGetAudit>
              </PropertyGroup>
            </Project>
            """);
        return directory;
    }

    public string Dotnet(ITestOutputHelper output, string directory, string arguments) => Run(output, directory, "dotnet", arguments);

    public string Run(ITestOutputHelper output, string directory, string program, string arguments)
    {
        var environment = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Packages };
        var (exitCode, text) = Execute(directory, program, arguments, environment);
        output.WriteLine($"$ {program} {arguments}\n{text}");
        Assert.True(exitCode == 0, $"'{program} {arguments}' in {directory} exited with {exitCode}:\n{text}");
        return text;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A temporary folder left behind is no test failure.
        }
    }

    private static (int ExitCode, string Text) Execute(string directory, string program, string arguments, Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(program, arguments)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        // No MSBuild nodes outlive the test, holding this test's environment.
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        // The tool's apphost finds the runtime that runs these tests.
        start.Environment["DOTNET_ROOT"] = DotnetRoot();
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(Patience))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{program} {arguments}' in {directory} ran longer than {Patience}.");
        }

        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    private static string DotnetRoot()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } configured)
        {
            return configured;
        }

        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(directory => Path.Combine(directory, "dotnet"))
            .First(File.Exists);
        var target = File.ResolveLinkTarget(onPath, returnFinalTarget: true)?.FullName ?? onPath;
        return Path.GetDirectoryName(target)!;
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "build.sh")) && File.Exists(Path.Combine(directory.FullName, "Plugin.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"build.sh and Plugin.sln not found above {AppContext.BaseDirectory}.");
    }
}

[CollectionDefinition(nameof(PackedFeed))]
public sealed class PackedFeedDefinition : ICollectionFixture<PackedFeed>;
