using System.CommandLine;
using Watermark.Formats;

namespace Watermark.Cli;

/// <summary><c>watermark convert</c>: the same tensors in another format, e.g. to check that a verdict does not depend on it.</summary>
internal static class ConvertVerb
{
    public static Command Create(CliConsole console)
    {
        var model = WatermarkCommand.ModelOption("The model file to read: TorchSharp .dat, safetensors (a sharded model by its .safetensors.index.json) or ONNX (external data files are read from its folder).");
        var format = WatermarkCommand.FormatOption();
        var output = TypedOptions.FilePath("--out", ["-o"], "The file to write; its extension (.dat, .safetensors, .onnx) picks the format unless --to is given.", "FILE");
        var to = WatermarkCommand.FormatOption("--to", "The output format. ONNX output holds the weights as initializers of a graph without nodes.");
        var force = WatermarkCommand.ForceOption();
        var command = new Command("convert", "Writes every tensor of a model file into another format (atomically).")
        {
            model, format, output, to, force,
        };
        command.SetGuardedAction(console, parsed =>
        {
            var path = parsed.GetValue(output)!;
            WatermarkCommand.CheckOutput(path, parsed.GetValue(force));
            var target = parsed.GetValue(to)?.Value ?? ModelFile.FormatFromExtension(path)
                ?? throw new UsageException($"cannot tell the format of '{path}' from its extension; use .dat, .safetensors or .onnx, or pass --to.");
            var file = WatermarkCommand.OpenModel(parsed, model, format);
            ModelFile.Write(path, target, file.ReadAll(), replace: parsed.GetValue(force));
            console.Out.WriteLine($"wrote {path} ({ModelFile.FormatName(target)}, {file.Tensors.Length} tensors)");
            return ExitCodes.Success;
        });
        return command;
    }
}
