namespace Watermark.Formats;

/// <summary>The model-file formats read and written without libtorch.</summary>
public enum ModelFormat
{
    /// <summary>What TorchSharp's <c>Module.save(path)</c> writes: a LEB128 count, then per entry a name, dtype, shape and raw bytes.</summary>
    TorchSharpDat,

    /// <summary>Hugging Face safetensors: a little-endian u64 header length, a JSON header, then the data.</summary>
    Safetensors,

    /// <summary>ONNX: the graph's initializers (TensorProto) are the weights.</summary>
    Onnx,

    /// <summary>
    /// What <c>torch.save(state_dict)</c> writes since PyTorch 1.6: a zip archive holding a pickle
    /// (<c>data.pkl</c>, read without running anything) and the raw storages.
    /// </summary>
    PyTorchCheckpoint,
}
