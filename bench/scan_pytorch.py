"""The check `watermark scan` does, as a PyTorch loop in one process, timed by bench/scan-speed.sh.

    python3 scan_pytorch.py RUNS PARAM BITS FILE...

For each torch.save'd state_dict: torch.load, the filter mean of PARAM, the projection Xw and its bits.
The loop's own time is measured after `import torch` (the interpreter's start-up is not counted, in
PyTorch's favour), RUNS times over all files; prints the median models/s as scan-speed.sh's other lines. X is random of the key's
size: the same work as the real key, whose ChaCha20 derivation has no Python port here.
"""
import sys
import time

import torch


def loop(param, bits, files):
    x = None
    ones = 0
    start = time.perf_counter()
    for path in files:
        state = torch.load(path, map_location="cpu")
        w = state[param].float().mean(dim=0).flatten()
        if x is None:
            x = torch.randn(bits, w.numel(), generator=torch.Generator().manual_seed(0))
        ones += int(((x @ w) >= 0).sum())
    return time.perf_counter() - start


def main():
    runs, param, bits, files = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    torch.set_num_threads(1)
    seconds = sorted(loop(param, bits, files) for _ in range(runs))
    median = seconds[(len(seconds) - 1) // 2]
    label = "PyTorch loop (torch.load, filter mean, Xw), .pt"
    print(f"{label:<44} {len(files):6d} files  median {median:8.3f} s  {len(files) / median:9.1f} models/s  (the loop alone, {runs} runs)")


if __name__ == "__main__":
    main()
