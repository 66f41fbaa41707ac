using System.Collections.Generic;
using System.Runtime.CompilerServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Watermark;

/// <summary>
/// X and b of a key as tensors on one device and dtype, built once and kept outside every dispose
/// scope (a key tensor made inside a batch scope would die with the batch). Never stored in a module
/// field, so it can never be saved into a model file.
/// </summary>
internal static class KeyTensors
{
    private static readonly ConditionalWeakTable<WatermarkKey, Dictionary<(DeviceType, int, ScalarType), (Tensor X, Tensor B)>> Cache = [];

    internal static (Tensor X, Tensor B) For(WatermarkKey key, Device device, ScalarType dtype)
    {
        var perKey = Cache.GetOrCreateValue(key);
        lock (perKey)
        {
            var slot = (device.type, device.index, dtype);
            if (perKey.TryGetValue(slot, out var cached) && !cached.X.IsInvalid)
            {
                return cached;
            }

            using var scope = NewDisposeScope();
            var targets = key.TargetBits();
            var b = new float[targets.Length];
            for (var j = 0; j < b.Length; j++)
            {
                b[j] = targets[j] ? 1f : 0f;
            }

            var x = tensor(key.ProjectionArray, [key.Bits, key.FilterMeanLength]).to(dtype, device).DetachFromDisposeScope();
            var bt = tensor(b, [key.Bits]).to(dtype, device).DetachFromDisposeScope();
            perKey[slot] = (x, bt);
            return (x, bt);
        }
    }
}
