using System.Collections.Generic;
using static TorchSharp.torch;

namespace Watermark;

/// <summary>
/// A module with <see cref="WatermarkAttribute"/> layers. The source generator implements it for every
/// partial module that marks a layer; each member covers the module's whole subtree, so slots of
/// nested modules appear under their state_dict path (e.g. <c>g2.block0.conv2.weight</c>).
/// </summary>
public interface IWatermarkable
{
    /// <summary>
    /// The layers this module type and its base types mark, base types' first (generated: one list per
    /// type, made once). A derived module's list includes its marked base's, so no mark is lost to inheritance.
    /// </summary>
    IReadOnlyList<WatermarkDeclaration> WatermarkDeclarations { get; }

    /// <summary>
    /// Every slot in this module and its submodules, named by state_dict path relative to this module.
    /// Cached per module: the list is made again when a marked layer, its weight (after <c>.to()</c>) or the module tree changed.
    /// </summary>
    IReadOnlyList<WatermarkSlot> WatermarkSlots { get; }

    /// <summary>Σ λ·E_R over the slots that <paramref name="keyring"/> activates: add it to the task loss.</summary>
    Tensor WatermarkLoss(Keyring keyring);

    /// <summary>Reads every slot of <paramref name="keyring"/> back: per-slot bits, BER and p-value, and the combined verdict.</summary>
    VerificationResult ExtractWatermark(Keyring keyring, double alpha = VerificationResult.DefaultAlpha);
}
