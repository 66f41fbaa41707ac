namespace Watermark;

/// <summary>Whether the message bits are XOR-ed with a key-derived mask before embedding.</summary>
public enum Whitening
{
    /// <summary>b = message bits: the paper's reference behaviour.</summary>
    None,

    /// <summary>
    /// b = message bits XOR a uniform mask from the key stream (purpose 2), so a model that never
    /// saw the key matches each bit with probability ½ whatever the bias of its weights.
    /// </summary>
    KeyedMask,
}
