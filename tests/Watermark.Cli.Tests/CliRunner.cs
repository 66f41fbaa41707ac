using System.IO;

namespace Watermark.Cli.Tests;

/// <summary>Runs the command in-process with captured output.</summary>
internal static class CliRunner
{
    public static CliRun Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = WatermarkCommand.Run(args, stdout, stderr);
        return new CliRun(code, stdout.ToString(), stderr.ToString());
    }
}

internal sealed record CliRun(int Code, string Out, string Err)
{
    public override string ToString() => $"exit {Code}\nstdout: {Out}\nstderr: {Err}";
}
