"""The verify check done in PyTorch, timed beside `watermark verify` by bench/verify-speed.sh.

    python3 verify_pytorch.py prepare MODEL.safetensors OUT.pt     (untimed: makes a torch.save'd state_dict)
    python3 verify_pytorch.py verify OUT.pt PARAM BITS             (timed: load, filter mean, projection, bits)

The projection uses a random X of the key's size: the same work as the real key, whose ChaCha20
derivation has no Python port here (the timing, not the verdict, is compared).
"""
import json
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64, "I64": torch.int64}


def prepare(source, target):
    with open(source, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    start = 8 + n
    state = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = bytearray(data[start + begin : start + end])
        tensor = torch.frombuffer(raw, dtype=DTYPES[info["dtype"]]) if raw else torch.empty(0, dtype=DTYPES[info["dtype"]])
        state[name] = tensor.reshape(info["shape"]).clone()
    torch.save(state, target)


def verify(path, param, bits):
    torch.set_num_threads(1)
    state = torch.load(path, map_location="cpu")
    w = state[param].float().mean(dim=0).flatten()
    x = torch.randn(bits, w.numel(), generator=torch.Generator().manual_seed(0))
    extracted = (x @ w) >= 0
    print(f"{int(extracted.sum())}/{bits} bits read as 1")


if __name__ == "__main__":
    if sys.argv[1] == "prepare":
        prepare(sys.argv[2], sys.argv[3])
    else:
        verify(sys.argv[2], sys.argv[3], int(sys.argv[4]))
