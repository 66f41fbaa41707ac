using System;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace Watermark.Analyzers;

/// <summary>
/// M of a layer from the arguments of the TorchSharp factory call that creates it:
/// Conv: (in_channels / groups) · ∏ kernel_size; Linear: inputSize. Only compile-time constants count.
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

    /// <summary>Evaluates the expression assigned to a marked member.</summary>
    public static FilterMeanLength Of(IOperation value)
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

            return Constant(call, "inputSize") is { } inputs
                ? new FilterMeanLength(inputs, null)
                : Unknown("the input size is not a compile-time constant");
        }

        var dimensions = name[name.Length - 2] - '0';
        if (Constant(call, "in_channels") is not { } channels)
        {
            return Unknown("in_channels is not a compile-time constant");
        }

        var groups = Constant(call, "groups") ?? 1;
        if (groups <= 0 || channels % groups != 0)
        {
            return Unknown($"in_channels = {channels} is not divisible by groups = {groups}");
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
                if (AsLong(element) is not { } size)
                {
                    return Unknown("kernel_size is not a tuple of compile-time constants");
                }

                product *= size;
            }
        }
        else if (kernel is not null && AsLong(kernel) is { } size)
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

        return new FilterMeanLength(channels / groups * product, null);
    }

    private static bool IsTorchFactory(IMethodSymbol method) =>
        method.IsStatic
        && method.Name is "Conv1d" or "Conv2d" or "Conv3d" or "Linear"
        && method.ContainingType is { Name: "nn", ContainingType: { Name: "torch", ContainingType: null } torch }
        && torch.ContainingNamespace?.ToDisplayString() == "TorchSharp";

    private static long? Constant(IInvocationOperation call, string parameter) =>
        call.Arguments.FirstOrDefault(a => a.Parameter?.Name == parameter)?.Value is { } value ? AsLong(value) : null;

    private static long? AsLong(IOperation operation)
    {
        var constant = operation.ConstantValue.HasValue ? operation.ConstantValue : Unwrap(operation).ConstantValue;
        return constant is { HasValue: true, Value: int or long or short or byte or sbyte or ushort or uint } ? Convert.ToInt64(constant.Value, System.Globalization.CultureInfo.InvariantCulture) : null;
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
