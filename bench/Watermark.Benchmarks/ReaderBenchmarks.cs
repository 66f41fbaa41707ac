using System.IO;
using BenchmarkDotNet.Attributes;
using Watermark.Formats;

namespace Watermark.Benchmarks;

/// <summary>
/// Reading a WRN-10-4 checkpoint (1.2 M weights, from TorchSharp's own module.save) and finding the host
/// layer's weights, in each format the CLI reads. The bytes are in memory: this is parsing, not disk.
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class ReaderBenchmarks
{
    private byte[] content = null!;

    [Params(ModelFormat.TorchSharpDat, ModelFormat.Safetensors, ModelFormat.Onnx)]
    public ModelFormat Format { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var folder = Directory.CreateTempSubdirectory("wm-bench-");
        try
        {
            var dat = Path.Combine(folder.FullName, "wrn.dat");
            using (var model = new WideResNet.Model.WideResNet(10, 4, 10))
            {
                model.save(dat);
            }

            var path = Path.Combine(folder.FullName, "wrn.out");
            ModelFile.Write(path, Format, ModelFile.Open(dat).ReadAll(), replace: true);
            content = File.ReadAllBytes(path);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Benchmark(Description = "parse + read conv2's weights")]
    public float[] Read()
    {
        var file = ModelFile.Read(content, "wrn", Format);
        return file.ReadFloat32(file.Find("g2.block0.conv2.weight"));
    }
}
