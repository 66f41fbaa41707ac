using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Reflection;
using Xunit;

namespace Watermark.Cli.Tests;

/// <summary>The command as a pipeline runs it: a separate process, judged by its exit code and stderr.</summary>
[Collection(TrainedModelsGroup.Name)]
public class ProcessTests(TrainedModels models)
{
    private static readonly string Program = Path.Combine(AppContext.BaseDirectory, "watermark.dll");

    [Fact]
    public void ExitCodesHoldAcrossAProcessBoundary()
    {
        var present = Watermark("verify", "--model", models.MarkedOnnx, "--key", models.OwnerKey, "--json");
        Assert.True(present.Code == ExitCodes.Present, present.ToString());
        Assert.Contains("\"present\": true", present.Out, StringComparison.Ordinal);

        var absent = Watermark("verify", "--model", models.CleanDat, "--key", models.OwnerKey);
        Assert.True(absent.Code == ExitCodes.Absent, absent.ToString());

        var truncated = models.PathOf($"cut-{Guid.NewGuid():N}.safetensors");
        File.WriteAllBytes(truncated, File.ReadAllBytes(models.MarkedSafetensors)[..100]);
        var unusable = Watermark("verify", "--model", truncated, "--key", models.OwnerKey);
        Assert.True(unusable.Code == ExitCodes.Unusable, unusable.ToString());
        Assert.Empty(unusable.Out);
        var line = Assert.Single(unusable.Err.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("watermark: error: Model file '", line, StringComparison.Ordinal);
    }

    [Fact]
    public void TheCommandDoesNotReferenceTorchSharp()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<Assembly>([typeof(WatermarkCommand).Assembly]);
        while (pending.Count > 0)
        {
            foreach (var reference in pending.Pop().GetReferencedAssemblies())
            {
                var name = reference.Name!;
                Assert.False(name.Contains("Torch", StringComparison.OrdinalIgnoreCase), $"the CLI reaches {name}");
                if (seen.Add(name) && !name.StartsWith("System", StringComparison.Ordinal) && !name.StartsWith("Microsoft", StringComparison.Ordinal) && name != "netstandard")
                {
                    pending.Push(Assembly.Load(reference));
                }
            }
        }

        Assert.Contains("Watermark.Core", seen);
        Assert.DoesNotContain("TorchSharp", File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "watermark.deps.json")), StringComparison.Ordinal);
    }

    private static CliRun Watermark(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Program);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(60)), "watermark did not exit within 60 s");
        return new CliRun(process.ExitCode, stdout.Result, stderr.Result);
    }
}
