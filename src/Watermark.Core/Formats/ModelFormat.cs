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
}
