#!/usr/bin/env bash
# Peak resident memory of CIFAR ResNet-20 training (issue #16): our Trainer (bench/TrainMemory) beside
# the same run in PyTorch (bench/train_memory.py), then our run with one lever changed at a time.
# Every run is its own process: each epoch's peak is VmHWM, reset at the epoch's start; "after" is the
# resident set after the last epoch (ours: after the Trainer's GC and malloc_trim).
#   bench/train-memory.sh                 # committed 2,000-image subset, repeated as needed
#   DATA=../shared/datasets bench/train-memory.sh   # full CIFAR-10 (raw or .gz records)
# Environment: STEPS (per epoch, default 10), EPOCHS (default 2), THREADS (default 2), JOBS (runs at
# once, default 1: memory numbers do not depend on it, time does), ONLY (a regex of row names to run).
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${STEPS:-10}
epochs=${EPOCHS:-2}
threads=${THREADS:-2}
jobs=${JOBS:-1}
data=${DATA:-data/cifar10-subset}
only=${ONLY:-.}

py=""
for candidate in ${PYTHON:-} python3 /usr/bin/python3; do
  if "$candidate" -c 'import torch, numpy' 2>/dev/null; then py=$candidate; break; fi
done
[ -n "$py" ] || echo "warning: no python3 here imports torch (Debian: apt-get install python3-torch); the PyTorch rows are skipped." >&2

out=$(mktemp -d /tmp/train-memory.XXXXXX)
dotnet build bench/TrainMemory -c Release -o "$out/bin" -nologo -v q >/dev/null
common=(--steps "$steps" --epochs "$epochs" --data "$data")
# name | environment | command (ours: TrainMemory options; pytorch: train_memory.py options)
rows=(
  "pytorch b128|-|pytorch --batch 128 --threads $threads"
  "ours b128|-|ours --batch 128 --threads $threads"
  "pytorch b64|-|pytorch --batch 64 --threads $threads"
  "ours b64|-|ours --batch 64 --threads $threads"
  "ours b128 keep-freed off|-|ours --batch 128 --threads $threads --keep-freed off"
  "ours b128 no trim|-|ours --batch 128 --threads $threads --trim off"
  "ours b128 MALLOC_ARENA_MAX=1|MALLOC_ARENA_MAX=1|ours --batch 128 --threads $threads"
  "ours b128 MALLOC_ARENA_MAX=2|MALLOC_ARENA_MAX=2|ours --batch 128 --threads $threads"
  "ours b128 1 thread|-|ours --batch 128 --threads 1"
  "ours b128 8 threads|-|ours --batch 128 --threads 8"
  "pytorch b128 8 threads|-|pytorch --batch 128 --threads 8"
  "ours b128 no evaluation|-|ours --batch 128 --threads $threads --eval-batch 0"
  "ours b128 eval batch 1000|-|ours --batch 128 --threads $threads --eval-batch 1000"
  "pytorch b128 eval batch 1000|-|pytorch --batch 128 --threads $threads --eval-batch 1000"
  "ours b128 bare loop|-|ours --batch 128 --threads $threads --loop bare"
  "ours b128 GC every step|-|ours --batch 128 --threads $threads --gc-every 1"
  "ours b128 server GC|DOTNET_gcServer=1|ours --batch 128 --threads $threads"
  "ours b128 GC after loading|-|ours --batch 128 --threads $threads --collect-first on"
)

run() {
  local i=$1 row=$2
  IFS='|' read -r name environment command <<<"$row"
  local envs=()
  [ "$environment" = "-" ] || envs=("$environment")
  local side=${command%% *} options=${command#* }
  # shellcheck disable=SC2086
  if [ "$side" = pytorch ]; then
    [ -n "$py" ] || return 0
    env "${envs[@]}" "$py" bench/train_memory.py $options "${common[@]}" >"$out/$i.log" 2>&1
  else
    env "${envs[@]}" dotnet "$out/bin/TrainMemory.dll" $options "${common[@]}" >"$out/$i.log" 2>&1
  fi
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); $(date -u +%Y-%m-%d); data $data, $steps steps x $epochs epochs; logs in $out"
running=0
for i in "${!rows[@]}"; do
  [[ "${rows[$i]%%|*}" =~ $only ]] || continue
  run "$i" "${rows[$i]}" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
done
wait || true

printf '| %-32s | %8s | %8s | %8s | %s\n' run "peak MiB" training "after" "per epoch / notes"
for i in "${!rows[@]}"; do
  name=${rows[$i]%%|*}
  [ -f "$out/$i.log" ] || continue
  line=$(grep '^summary:' "$out/$i.log" || true)
  if [ -z "$line" ]; then printf '| %-32s | failed: %s\n' "$name" "$(tail -n 1 "$out/$i.log")"; continue; fi
  peak=$(echo "$line" | grep -oE 'peak RSS [0-9]+' | grep -oE '[0-9]+')
  training=$(echo "$line" | grep -oE 'training [0-9]+' | grep -oE '[0-9]+')
  after=$(echo "$line" | grep -oE 'after [0-9]+' | grep -oE '[0-9]+')
  notes=$(echo "$line" | grep -oE 'per epoch [0-9/]+|live tensors max [0-9]+|malloc in use max [0-9]+ MiB|ru_maxrss [0-9]+ MiB' | paste -sd ',' | sed 's/,/, /g')
  printf '| %-32s | %8s | %8s | %8s | %s\n' "$name" "$peak" "$training" "$after" "$notes"
done
