using System;
using System.Collections.Generic;
using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.IO;
using System.Linq;
using Watermark.Formats;

namespace Watermark.Cli;

/// <summary>
/// The <c>watermark</c> command: builds the verbs and runs one. <see cref="Run"/> is the whole program,
/// with its output streams injectable so tests run it in-process.
/// </summary>
public static class WatermarkCommand
{
    /// <summary>Parses <paramref name="args"/>, runs the verb, and returns the exit code (see <see cref="ExitCodes"/>).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        stdout = new TerminalWriter(stdout);
        stderr = new TerminalWriter(stderr);
        var console = new CliConsole(stdout, stderr);
        var root = new RootCommand(
            "Keys, verification, extraction, inspection and attacks for Uchida et al. (2017) " +
            "watermarks in TorchSharp .dat, safetensors and ONNX model files, without libtorch.")
        {
            KeygenVerb.Create(console),
            VerifyVerb.Create(console),
            ScanVerb.Create(console),
            ExtractVerb.Create(console),
            InspectVerb.Create(console),
            AttackVerb.Create(console),
            ConvertVerb.Create(console),
        };

        var parsed = root.Parse(args);
        if (parsed.Action is ParseErrorAction parseError)
        {
            return ReportParseErrors(parsed, parseError, stderr);
        }

        try
        {
            return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        finally
        {
            stdout.Flush();
            stderr.Flush();
        }
    }

    // One line per error, naming the option it is about, then System.CommandLine's own typo corrections for
    // verbs and options ("'verfy' was not matched. Did you mean one of the following?"), then where to look.
    private static int ReportParseErrors(ParseResult parsed, ParseErrorAction action, TextWriter stderr)
    {
        foreach (var error in parsed.Errors)
        {
            var message = string.Join(' ', error.Message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
            var option = (error.SymbolResult as OptionResult)?.Option;
            stderr.WriteLine(option is null || message.Contains(option.Name, StringComparison.Ordinal)
                ? $"watermark: error: {message}"
                : $"watermark: error: {option.Name}: {message}");
        }

        // The action writes the suggestions to Output; its copy of the errors (written above) and its full help are left out.
        action.ShowTypoCorrections = true;
        action.ShowHelp = false;
        parsed.Invoke(new InvocationConfiguration { Output = stderr, Error = TextWriter.Null, EnableDefaultExceptionHandler = false });

        var names = new List<string>();
        for (var result = parsed.CommandResult; result is not null; result = result.Parent as CommandResult)
        {
            names.Insert(0, result.Command is RootCommand ? "watermark" : result.Command.Name);
        }

        var command = string.Join(' ', names);
        var verbs = parsed.CommandResult.Command.Subcommands.Select(c => c.Name).ToList();
        if (verbs.Count > 0)
        {
            stderr.WriteLine($"Commands of '{command}': {string.Join(", ", verbs)}.");
        }

        stderr.WriteLine($"Run '{command} --help' for usage.");
        stderr.Flush();
        return ExitCodes.Unusable;
    }

    /// <summary>Runs a verb's body, turning every expected failure into one line on stderr and exit code 2.</summary>
    internal static void SetGuardedAction(this Command command, CliConsole console, Func<ParseResult, int> action) =>
        command.SetAction(parsed =>
        {
            try
            {
                return action(parsed);
            }
            catch (WatermarkException e)
            {
                return console.Fail(e.Message);
            }
            catch (ArgumentException e)
            {
                // The library's argument checks read as sentences; the "(Parameter 'x')" suffix is for programmers.
                return console.Fail(e.ParamName is null ? e.Message : e.Message.Replace($" (Parameter '{e.ParamName}')", string.Empty, StringComparison.Ordinal));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
            {
                // NotSupportedException: the library cannot do this with this input (e.g. write a multi-file model); its message says what to do.
                return console.Fail(e.Message);
            }
        });

    /// <summary>The <c>--model FILE</c> option.</summary>
    internal static Option<string> ModelOption(string description) =>
        TypedOptions.FilePath("--model", ["-m"], description, "FILE");

    /// <summary>The <c>--force</c> option of verbs that write a file.</summary>
    internal static Option<bool> ForceOption(string what = "the output file") => new("--force")
    {
        Description = $"Replace {what} if it exists (a regular file only; its permissions are kept). Without it an existing file is never touched.",
    };

    /// <summary>
    /// Checks an output path before any work: an existing file needs --force, and only a regular file is
    /// ever replaced (never a folder, link, pipe or device node). Writing re-checks atomically.
    /// </summary>
    internal static void CheckOutput(string path, bool force, string option = "--out")
    {
        if (Directory.Exists(path))
        {
            throw new UsageException($"{option} '{path}' is a folder; give a file path.");
        }

        var info = new FileInfo(path);
        if (info.LinkTarget is not null)
        {
            throw new UsageException($"{option} '{path}' is a symbolic link; write to its target '{info.LinkTarget}' or to another path.");
        }

        if (info.Exists && !force)
        {
            throw new UsageException($"{option} '{path}' already exists; pass --force to replace it, or choose another path.");
        }
    }

    /// <summary>The <c>--format</c> option that overrides detection.</summary>
    internal static Option<Choice<ModelFormat>> FormatOption() => FormatOption(
        "--format", "The model file's format when neither its header nor its name tells (.dat/.bin, .safetensors or a sharded model's .safetensors.index.json, .onnx, .pt/.pth/.ckpt); safetensors also reads any JSON shard index.");

    /// <summary>An option naming a model format: dat, safetensors, onnx or pytorch; no value when not given.</summary>
    internal static Option<Choice<ModelFormat>> FormatOption(string name, string description) => TypedOptions.OneOf<ModelFormat>(
        name, description, null, new("dat", ModelFormat.TorchSharpDat), new("safetensors", ModelFormat.Safetensors), new("onnx", ModelFormat.Onnx), new("pytorch", ModelFormat.PyTorchCheckpoint));

    /// <summary>Opens the model named by the verb's options.</summary>
    internal static ModelFile OpenModel(ParseResult parsed, Option<string> model, Option<Choice<ModelFormat>> format) =>
        ModelFile.Open(parsed.GetValue(model)!, parsed.GetValue(format)?.Value);
}

/// <summary>The output streams of one run.</summary>
internal sealed class CliConsole(TextWriter stdout, TextWriter stderr)
{
    public TextWriter Out { get; } = stdout;

    public TextWriter Error { get; } = stderr;

    /// <summary>Writes the one-line reason and returns exit code 2.</summary>
    public int Fail(string reason)
    {
        Error.WriteLine($"watermark: error: {reason.ReplaceLineEndings(" ")}");
        return ExitCodes.Unusable;
    }
}
