using static TorchSharp.torch;

namespace Watermark;

/// <summary>
/// One <see cref="WatermarkAttribute"/> as the generated code states it: the member, its layer
/// instance (null until the constructor creates it), T, the key kind and λ.
/// </summary>
/// <param name="Member">The field or property name, e.g. <c>conv2</c>.</param>
/// <param name="Layer">The marked layer; a Conv1d, Conv2d, Conv3d or Linear.</param>
/// <param name="Bits">T.</param>
/// <param name="Kind">How X is built.</param>
/// <param name="Strength">λ.</param>
public sealed record WatermarkDeclaration(string Member, nn.Module? Layer, int Bits, KeyKind Kind, double Strength);
