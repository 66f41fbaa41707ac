using System;
using System.IO;
using System.Linq;
using System.Text;
using Xunit;

namespace Watermark.Cli.Tests;

public sealed class InspectOverflowTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("wmk-inspect-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void DeclaredCountsWhoseSumOverflowsDoNotCrashInspect()
    {
        // 17 tensors of 5·10^17 elements of a dtype the reader does not decode, with no data: the
        // counts alone overflow a long when summed (found in review).
        var entries = string.Join(",", Enumerable.Range(0, 17).Select(i => $"\"t{i}\":{{\"dtype\":\"F8_E4M3\",\"shape\":[500000000000000000],\"data_offsets\":[0,0]}}"));
        var header = Encoding.UTF8.GetBytes("{" + entries + "}");
        var path = Path.Combine(folder, "crafted.safetensors");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)header.Length), .. header]);
        var run = CliRunner.Run("inspect", "--model", path);
        Assert.True(run.Code is ExitCodes.Present or ExitCodes.Unusable, run.ToString());
    }
}
