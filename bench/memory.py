#!/usr/bin/env python3
"""Resident memory per epoch of finished runs, and how flat it is from epoch 2 on (issue #7's target).

Usage: bench/memory.py RUN_DIR_OR_RUN_JSON...   e.g. bench/memory.py samples/WideResNet/results/runs/cpu/*/
Reads History[].ResidentMegabytes (and ManagedMegabytes, the GC's committed memory, where recorded) from
each run.json, which the Trainer writes at every epoch's end. "±" is the largest distance from the mean of
epochs 2..end, as a share of that mean. Runs written before RSS was recorded are skipped.
"""
import json
import os
import sys


def load(path):
    if os.path.isdir(path):
        path = os.path.join(path, "run.json")
    with open(path, encoding="utf-8") as f:
        return path, json.load(f)


def spread(values):
    mean = sum(values) / len(values)
    return mean, max(abs(v - mean) for v in values) / mean


def main(paths):
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    worst = 0.0
    for given in paths:
        if os.path.isdir(given) and not os.path.exists(os.path.join(given, "run.json")):
            print(f"{given}: no run.json yet (still training?), skipped")
            continue
        try:
            path, run = load(given)
        except (OSError, ValueError) as e:
            print(f"{given}: cannot read a run.json ({e})", file=sys.stderr)
            return 1
        history = run.get("History", [])
        rss = [h.get("ResidentMegabytes", 0) for h in history]
        managed = [h.get("ManagedMegabytes", 0) for h in history]
        if len(rss) < 3 or min(rss) <= 0:
            continue
        mean, share = spread(rss[1:])
        worst = max(worst, share)
        name = os.path.basename(os.path.dirname(path))
        line = f"{name}: RSS {', '.join(f'{v:.0f}' for v in rss)} MiB; epochs 2..{len(rss)}: mean {mean:.0f}, ±{100 * share:.1f}%"
        if min(managed) > 0:
            m_mean, m_share = spread(managed[1:])
            line += f"; managed {', '.join(f'{v:.0f}' for v in managed)} MiB (mean {m_mean:.0f}, ±{100 * m_share:.1f}%)"
        print(line)
    print(f"largest swing from epoch 2: ±{100 * worst:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
