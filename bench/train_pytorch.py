#!/usr/bin/env python3
"""The PyTorch side of bench/train-speed.sh: the same WRN training steps as the sample's `speed` command.

Same network (pre-activation WRN-(6N+4)-k, Kaiming-normal convs), same data (CIFAR-10 binary records,
gz or raw), same per-sample augmentation (zero-pad 4, random 32x32 crop, flip with p = 1/2, per-channel
normalisation), same optimizer (SGD, Nesterov momentum 0.9, lr 0.1, weight decay 5e-4), batch 64,
same thread count, batches prepared one ahead in a background thread as our BatchLoader does. Prints
one line: `pytorch <version>: <ms> ms per step, <images/s> images/s, threads <n>`.
"""
import argparse
import gzip
import os
import queue
import threading
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32).reshape(1, 3, 1, 1)
STD = np.array([0.2470, 0.2435, 0.2616], dtype=np.float32).reshape(1, 3, 1, 1)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = nn.Conv2d(cin, cout, 1, stride, bias=False) if cin != cout or stride != 1 else None

    def forward(self, x):
        a = F.relu(self.bn1(x))
        residual = x if self.shortcut is None else self.shortcut(a)
        return self.conv2(F.relu(self.bn2(self.conv1(a)))) + residual


class WideResNet(nn.Module):
    def __init__(self, depth, widen, classes=10):
        super().__init__()
        n = (depth - 4) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        widths = [16, 16 * widen, 32 * widen, 64 * widen]
        groups = []
        for g, stride in zip(range(3), [1, 2, 2]):
            groups.append(nn.Sequential(*[Block(widths[g] if i == 0 else widths[g + 1], widths[g + 1], stride if i == 0 else 1) for i in range(n)]))
        self.g2, self.g3, self.g4 = groups
        self.bn = nn.BatchNorm2d(64 * widen)
        self.fc = nn.Linear(64 * widen, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")

    def forward(self, x):
        x = self.g4(self.g3(self.g2(self.conv1(x))))
        x = F.relu(self.bn(x))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def read_records(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = np.frombuffer(f.read(), dtype=np.uint8).reshape(-1, 3073)
    return raw[:, 1:].reshape(-1, 3, 32, 32), raw[:, 0].astype(np.int64)


def load(data):
    """The committed subset (train.bin.gz) or a cifar-10-batches-bin folder (data_batch_1..5.bin)."""
    if os.path.exists(os.path.join(data, "train.bin.gz")):
        return read_records(os.path.join(data, "train.bin.gz"))
    folder = os.path.join(data, "cifar-10-batches-bin") if os.path.isdir(os.path.join(data, "cifar-10-batches-bin")) else data
    parts = [read_records(os.path.join(folder, f"data_batch_{i}.bin")) for i in range(1, 6)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def batches(images, labels, batch, count, rng):
    order = rng.permutation(len(images))
    for start in range(0, count * batch, batch):
        index = order[np.arange(start, start + batch) % len(images)]
        padded = np.pad(images[index], ((0, 0), (0, 0), (4, 4), (4, 4)))
        dx, dy, flip = rng.integers(0, 9, batch), rng.integers(0, 9, batch), rng.integers(0, 2, batch)
        out = np.empty((batch, 3, 32, 32), dtype=np.uint8)
        for b in range(batch):
            crop = padded[b, :, dy[b]:dy[b] + 32, dx[b]:dx[b] + 32]
            out[b] = crop[:, :, ::-1] if flip[b] else crop
        x = (out.astype(np.float32) / 255.0 - MEAN) / STD
        yield torch.from_numpy(x), torch.from_numpy(labels[index])


def prefetched(generator):
    q = queue.Queue(maxsize=2)
    threading.Thread(target=lambda: [q.put(item) for item in generator] + [q.put(None)], daemon=True).start()
    while (item := q.get()) is not None:
        yield item


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--depth", type=int, default=10)
    p.add_argument("--widen", type=int, default=4)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--epoch", action="store_true", help="time one full pass over the training set instead of --steps")
    p.add_argument("--data", required=True)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    images, labels = load(a.data)
    steps = (len(images) + 63) // 64 if a.epoch else a.steps
    model = WideResNet(a.depth, a.widen)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    rng = np.random.default_rng(1)
    start = None
    phases = np.zeros(3)
    for i, (x, y) in enumerate(prefetched(batches(images, labels, 64, a.warmup + steps, rng))):
        if i == a.warmup:
            start = time.perf_counter()
            phases[:] = 0
        t0 = time.perf_counter()
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        optimizer.step()
        phases += [t1 - t0, time.perf_counter() - t2, t2 - t1]
    per_step = (time.perf_counter() - start) / steps
    forward, step, backward = 1000 * phases / steps
    print(f"pytorch {torch.__version__}: {1000 * per_step:.0f} ms per step, {64 / per_step:.0f} images/s, threads {torch.get_num_threads()}: forward {forward:.0f} ms, backward {backward:.0f} ms, SGD step {step:.1f} ms")


if __name__ == "__main__":
    main()
