using System;
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Linq;

namespace Watermark.Cli;

/// <summary>
/// Options whose values are checked by the parser, so a bad value is a parse error (exit 2, naming the
/// option and what it accepts) before any file is opened. Numbers are read in the invariant culture.
/// </summary>
internal static class TypedOptions
{
    /// <summary>A number that <paramref name="accepts"/> allows; <paramref name="rule"/> completes "NAME …" in the error.</summary>
    public static Option<double> Real(string name, string description, string helpName, Func<double, bool> accepts, string rule, double? defaultValue = null)
    {
        var option = new Option<double>(name)
        {
            Description = description,
            HelpName = helpName,
            Required = defaultValue is null,
            CustomParser = result =>
                double.TryParse(Token(result), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && accepts(value)
                    ? value
                    : Reject<double>(result, name, rule),
        };
        if (defaultValue is { } fallback)
        {
            option.DefaultValueFactory = _ => fallback;
        }

        return option;
    }

    /// <summary>A whole number in [<paramref name="min"/>, <paramref name="max"/>]; <paramref name="rule"/> completes "NAME …" in the error.</summary>
    public static Option<int> Integer(string name, string[] aliases, string description, string helpName, int min, int max, string rule, int defaultValue) => new(name, aliases)
    {
        Description = description,
        HelpName = helpName,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = result =>
            int.TryParse(Token(result), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
                ? value
                : Reject<int>(result, name, rule),
    };

    /// <summary>
    /// One of a fixed set of words, each standing for a value; <paramref name="defaultWord"/>, when given, is
    /// taken when the option is not (help shows it as the word, which an enum's name would not be).
    /// </summary>
    public static Option<Choice<T>> OneOf<T>(string name, string description, string? defaultWord, params Choice<T>[] choices)
    {
        var option = new Option<Choice<T>>(name)
        {
            Description = description,
            HelpName = string.Join('|', choices.Select(c => c.Word)),
            CustomParser = result => choices.First(c => c.Word == Token(result)),
        };
        if (defaultWord is not null)
        {
            var fallback = choices.First(c => c.Word == defaultWord);
            option.DefaultValueFactory = _ => fallback;
        }

        // Checked (and offered as completions) before CustomParser runs, so the lookup above always succeeds.
        option.AcceptOnlyFromAmong([.. choices.Select(c => c.Word)]);
        return option;
    }

    /// <summary>A path to read or write, taken as given so that errors name it as the user wrote it.</summary>
    public static Option<string> FilePath(string name, string[] aliases, string description, string helpName, bool required = true)
    {
        var option = new Option<string>(name, aliases) { Description = description, HelpName = helpName, Required = required };
        option.AcceptLegalFilePathsOnly();
        return option;
    }

    /// <summary>Records a parse error naming the option and the value given, and returns a placeholder.</summary>
    public static T Reject<T>(ArgumentResult result, string name, string rule)
    {
        result.AddError($"{name} {rule}; '{string.Join(' ', result.Tokens.Select(t => t.Value))}' was given.");
        return default!;
    }

    // The option's one value: the parser has checked the arity before a custom parser runs.
    private static string Token(ArgumentResult result) => result.Tokens[0].Value;
}

/// <summary>A value chosen on the command line by a word; it prints as that word.</summary>
internal sealed record Choice<T>(string Word, T Value)
{
    /// <inheritdoc/>
    public override string ToString() => Word;
}
