using System;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace Watermark;

/// <summary>
/// M of a layer from the arguments of the TorchSharp factory call that creates it:
/// Conv: (in_channels / groups) · ∏ kernel_size; Linear: inputSize. Only compile-time constants count,
/// and constructor parameters where a caller binds them to constants (<c>new Block(16)</c>).
/// </summary>
internal readonly struct FilterMeanLength
{
    private FilterMeanLength(long? value, string? unknownBecause)
    {
        Value = value;
        UnknownBecause = unknownBecause;
    }

    /// <summary>M, when known.</summary>
    public long? Value { get; }

    /// <summary>Why M is not known (for WMK002).</summary>
    public string? UnknownBecause { get; }

    public static FilterMeanLength Unknown(string because) => new(null, because);

    /// <summary>Evaluates the expression assigned to a marked member; <paramref name="bind"/> gives values of parameters, if any.</summary>
    public static FilterMeanLength Of(IOperation value, Func<IParameterSymbol, long?>? bind = null)
    {
        if (Unwrap(value) is not IInvocationOperation call || !IsTorchFactory(call.TargetMethod))
        {
            return Unknown("the layer is not created by a torch.nn factory call here");
        }

        var name = call.TargetMethod.Name;
        if (name == "Linear")
        {
            if (!call.TargetMethod.Parameters.Any(p => p.Name == "inputSize"))
            {
                return Unknown("the layer is built from existing weights");
            }

            return Argument(call, "inputSize", bind, out _) is { } inputs
                ? new FilterMeanLength(inputs, null)
                : Unknown("the input size is not a compile-time constant");
        }

        var dimensions = name[name.Length - 2] - '0';
        if (Argument(call, "in_channels", bind, out _) is not { } channels)
        {
            return Unknown("in_channels is not a compile-time constant");
        }

        // A groups argument that is not constant leaves M unknown (depthwise: groups = in_channels makes M = ∏ kernel_size).
        var groups = Argument(call, "groups", bind, out var groupsGiven);
        if (groupsGiven && groups is null)
        {
            return Unknown("groups is not a compile-time constant");
        }

        var groupCount = groups ?? 1;
        if (groupCount <= 0 || channels % groupCount != 0)
        {
            return Unknown($"in_channels = {channels} is not divisible by groups = {groupCount}");
        }

        var kernel = call.Arguments.FirstOrDefault(a => a.Parameter?.Name == "kernel_size")?.Value;
        long product = 1;
        if (kernel is not null && kernel.Type is INamedTypeSymbol { IsTupleType: true })
        {
            if (Unwrap(kernel) is not ITupleOperation tuple || tuple.Elements.Length != dimensions)
            {
                return Unknown("kernel_size is not a tuple of compile-time constants");
            }

            foreach (var element in tuple.Elements)
            {
                if (Evaluate(element, bind) is not { } size)
                {
                    return Unknown("kernel_size is not a tuple of compile-time constants");
                }

                product *= size;
            }
        }
        else if (kernel is not null && Evaluate(kernel, bind) is { } size)
        {
            for (var i = 0; i < dimensions; i++)
            {
                product *= size;
            }
        }
        else
        {
            return Unknown("kernel_size is not a compile-time constant");
        }

        return new FilterMeanLength(channels / groupCount * product, null);
    }

    /// <summary>Whether the layer creation reads a parameter (so a caller's constants may decide M).</summary>
    public static bool ReadsParameters(IOperation value) =>
        value.DescendantsAndSelf().Any(operation => operation is IParameterReferenceOperation);

    private static bool IsTorchFactory(IMethodSymbol method) =>
        method.IsStatic
        && method.Name is "Conv1d" or "Conv2d" or "Conv3d" or "Linear"
        && method.ContainingType is { Name: "nn", ContainingType: { Name: "torch", ContainingType: null } torch }
        && torch.ContainingNamespace?.ToDisplayString() == "TorchSharp";

    // An argument the call leaves at its default counts as not given.
    private static long? Argument(IInvocationOperation call, string parameter, Func<IParameterSymbol, long?>? bind, out bool given)
    {
        var argument = call.Arguments.FirstOrDefault(a => a.Parameter?.Name == parameter);
        given = argument is { ArgumentKind: not ArgumentKind.DefaultValue };
        return argument?.Value is { } value ? Evaluate(value, bind) : null;
    }

    // Constants, bound parameters, and + − × ÷ of those.
    private static long? Evaluate(IOperation operation, Func<IParameterSymbol, long?>? bind)
    {
        var constant = operation.ConstantValue.HasValue ? operation.ConstantValue : Unwrap(operation).ConstantValue;
        if (constant is { HasValue: true, Value: int or long or short or byte or sbyte or ushort or uint })
        {
            return Convert.ToInt64(constant.Value, System.Globalization.CultureInfo.InvariantCulture);
        }

        switch (Unwrap(operation))
        {
            case IParameterReferenceOperation parameter when bind is not null:
                return bind(parameter.Parameter);
            case IBinaryOperation binary when bind is not null && Evaluate(binary.LeftOperand, bind) is { } left && Evaluate(binary.RightOperand, bind) is { } right:
                return binary.OperatorKind switch
                {
                    BinaryOperatorKind.Add => left + right,
                    BinaryOperatorKind.Subtract => left - right,
                    BinaryOperatorKind.Multiply => left * right,
                    BinaryOperatorKind.Divide when right != 0 => left / right,
                    _ => null,
                };
            default:
                return null;
        }
    }

    /// <summary>Strips implicit conversions and parentheses.</summary>
    public static IOperation Unwrap(IOperation operation)
    {
        while (true)
        {
            switch (operation)
            {
                case IConversionOperation { IsImplicit: true } conversion:
                    operation = conversion.Operand;
                    break;
                case IConversionOperation { Operand.Type: INamedTypeSymbol { IsTupleType: true } } conversion:
                    operation = conversion.Operand;
                    break;
                case IParenthesizedOperation parenthesized:
                    operation = parenthesized.Operand;
                    break;
                default:
                    return operation;
            }
        }
    }
}
