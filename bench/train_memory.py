#!/usr/bin/env python3
"""The PyTorch side of bench/train-memory.sh: bench/TrainMemory's run in PyTorch.

Same network (CIFAR ResNet-20 from bench/resnet20.py), same data and augmentation (bench/train_pytorch.py's
loader: CIFAR-10 records, pad-crop-flip, normalisation, one batch prepared ahead in a thread), same
optimizer (SGD, Nesterov momentum 0.9, lr 0.1, weight decay 5e-4), same batch, same thread count, the same
evaluation pass (no_grad, eval mode) after each epoch. Peak resident memory per epoch is VmHWM, reset
at each epoch's start (/proc/self/clear_refs), as bench/TrainMemory does; ru_maxrss is the process's peak.
"""
import argparse
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resnet20 import ResNet20  # noqa: E402
from train_pytorch import MEAN, STD, batches, prefetched, read_records  # noqa: E402


def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def find(data, *names):
    """The first of data/name, data/cifar-10-batches-bin/name, raw or .gz, that exists."""
    for name in names:
        for folder in (data, os.path.join(data, "cifar-10-batches-bin")):
            for suffix in ("", ".gz"):
                if os.path.exists(os.path.join(folder, name + suffix)):
                    return os.path.join(folder, name + suffix)
    raise FileNotFoundError(f"none of {names} (raw or .gz) in {data}")


def load(data):
    """The committed subset (train.bin.gz, test.bin.gz) or CIFAR-10's data_batch_1..5 and test_batch, raw or gzip'ed."""
    if os.path.exists(os.path.join(data, "train.bin.gz")):
        train = [read_records(os.path.join(data, "train.bin.gz"))]
    else:
        train = [read_records(find(data, f"data_batch_{i}.bin")) for i in range(1, 6)]
    test = read_records(find(data, "test.bin", "test_batch.bin"))
    return np.concatenate([t[0] for t in train]), np.concatenate([t[1] for t in train]), test[0], test[1]


def evaluate(model, images, labels, batch):
    model.eval()
    wrong = 0
    with torch.no_grad():
        for start in range(0, len(images), batch):
            x = (images[start:start + batch].astype(np.float32) / 255.0 - MEAN) / STD
            out = model(torch.from_numpy(x))
            wrong += int((out.argmax(1) != torch.from_numpy(labels[start:start + batch])).sum())
    model.train()
    return wrong / len(images)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--eval-batch", type=int, default=256)
    p.add_argument("--data", required=True)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--trace", type=int, default=0, help="print RSS and its peak every N steps")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    images, labels, test_images, test_labels = load(a.data)
    after_load = status("VmRSS")
    model = ResNet20()
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    rng = np.random.default_rng(1)
    name = f"resnet20 batch {a.batch} eval {a.eval_batch or 'none'} threads {torch.get_num_threads()} arenas {os.environ.get('MALLOC_ARENA_MAX', 'default')}"
    print(f"pytorch {torch.__version__}: {name}; {a.steps * a.batch} training images per epoch, {len(test_images)} test images; after loading: RSS {after_load:.0f} MiB")
    peaks, train_peaks, after = [], [], []
    clock = time.perf_counter()
    for epoch in range(a.epochs):
        reset_peak()
        for step, (x, y) in enumerate(prefetched(batches(images, labels, a.batch, a.steps, rng)), 1):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            if a.trace and step % a.trace == 0:
                print(f"    step {step}: RSS {status('VmRSS'):.0f} MiB, peak {status('VmHWM'):.0f} MiB", flush=True)
        train_peaks.append(status("VmHWM"))
        error = evaluate(model, test_images, test_labels, a.eval_batch) if a.eval_batch > 0 else float("nan")
        peaks.append(status("VmHWM"))
        after.append(status("VmRSS"))
        print(f"  epoch {epoch + 1}: peak {peaks[-1]:.0f} MiB (training alone {train_peaks[-1]:.0f}), after {after[-1]:.0f} MiB, test error {error:.3f}")
    seconds = time.perf_counter() - clock
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"summary: pytorch {name}: peak RSS {max(peaks):.0f} MiB (training {max(train_peaks):.0f}, per epoch {'/'.join(f'{v:.0f}' for v in peaks)}), after {after[-1]:.0f} MiB, ru_maxrss {maxrss:.0f} MiB, {seconds:.0f} s")


if __name__ == "__main__":
    main()
