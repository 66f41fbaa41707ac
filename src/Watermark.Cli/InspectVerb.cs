using System;
using System.CommandLine;
using System.Globalization;
using System.IO;
using System.Linq;
using Watermark.Formats;

namespace Watermark.Cli;

/// <summary><c>watermark inspect</c>: the tensors of a model file.</summary>
internal static class InspectVerb
{
    public static Command Create(CliConsole console)
    {
        var model = WatermarkCommand.ModelOption("The model file to list: TorchSharp .dat, safetensors (a sharded model by its .safetensors.index.json) or ONNX (external data files are read from its folder).");
        var format = WatermarkCommand.FormatOption();
        var command = new Command(
            "inspect",
            "Lists a model file's tensors: name, shape, element type, and M (the filter-mean length) for weights that can host a mark.")
        {
            model, format,
        };
        command.SetGuardedAction(console, parsed =>
        {
            var file = WatermarkCommand.OpenModel(parsed, model, format);
            // Saturating: a crafted file may declare counts whose sum overflows.
            var parameters = file.Tensors.Aggregate(0L, (sum, t) => sum > long.MaxValue - t.ElementCount ? long.MaxValue : sum + t.ElementCount);
            console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{file.Source}: {ModelFile.FormatName(file.Format)}, {file.Tensors.Length} tensors, {parameters} values"));
            if (file.Parts.Length > 1)
            {
                var folder = Path.GetDirectoryName(file.Parts[0])!;
                var more = file.Parts.Length > 9 ? $", … ({file.Parts.Length - 9} more)" : string.Empty;
                console.Out.WriteLine($"values in {file.Parts.Length - 1} more file(s) beside it: {string.Join(", ", file.Parts.Skip(1).Take(8).Select(p => Path.GetRelativePath(folder, p)))}{more}");
            }

            if (file.Tensors.IsEmpty)
            {
                return ExitCodes.Success;
            }

            var width = Math.Max(4, file.Tensors.Max(t => t.Name.Length));
            var shapeWidth = Math.Max(5, file.Tensors.Max(t => Capacity.ShapeText(t.Shape).Length));
            console.Out.WriteLine($"{"name".PadRight(width)}  {"shape".PadRight(shapeWidth)}  {"dtype",-10}  M");
            foreach (var tensor in file.Tensors)
            {
                var m = FilterMeanText(tensor);
                console.Out.WriteLine($"{tensor.Name.PadRight(width)}  {Capacity.ShapeText(tensor.Shape).PadRight(shapeWidth)}  {tensor.DTypeName,-10}  {m}");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static string FilterMeanText(TensorEntry tensor)
    {
        if (tensor.Shape.Length is < 2 or > 5 || !tensor.DType.IsReal() || tensor.Shape.Any(d => d <= 0))
        {
            return "-";
        }

        try
        {
            return Capacity.FilterMeanLength(tensor.Shape).ToString(CultureInfo.InvariantCulture);
        }
        catch (ArgumentException)
        {
            return "-";
        }
    }
}
