#!/usr/bin/env bash
# Side by side on this machine, in one command: the same WRN training steps (batch 64, real CIFAR-10,
# per-sample crop+flip, SGD Nesterov + weight decay, same threads) with our Trainer (the sample's
# `speed` command) and with bench/train_pytorch.py (Debian's python3-torch, installed here when
# missing). Alternates the two ROUNDS times (default 2) and prints each side's images/s and the ratio.
#   bench/train-speed.sh [--depth 10] [--widen 4] [--steps 20] [--epoch] [--data DIR] [--threads N]
# Without --data the committed 2,000-image subset is used (enough for 20 steps); --epoch needs the
# full CIFAR-10 (--data ../shared/datasets or $WATERMARK_DATA).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-2}
args=("$@")
data=data/cifar10-subset
for ((i = 0; i < ${#args[@]}; i++)); do
  [ "${args[$i]}" = "--data" ] && data=${args[$((i + 1))]}
done
[ -z "${WATERMARK_DATA:-}" ] || [[ " ${args[*]} " == *" --data "* ]] || { data=$WATERMARK_DATA; args+=(--data "$data"); }

py=""
for candidate in ${PYTHON:-} python3 /usr/bin/python3; do
  if "$candidate" -c 'import torch, numpy' 2>/dev/null; then py=$candidate; break; fi
done
if [ -z "$py" ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's python3-torch (once; about a minute)..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-torch python3-numpy >/tmp/train-speed-apt.log 2>&1 \
      || { echo "error: apt-get install python3-torch failed; see /tmp/train-speed-apt.log" >&2; exit 2; }
    py=/usr/bin/python3
  else
    echo "error: no python3 here imports torch; install it (Debian: sudo apt-get install python3-torch) or set PYTHON." >&2
    exit 2
  fi
fi

dotnet build samples/WideResNet -c Release -nologo -v q >/dev/null
ours=(dotnet samples/WideResNet/bin/Release/net10.0/WideResNet.dll speed "${args[@]}")
theirs=("$py" bench/train_pytorch.py "${args[@]}")
[[ " ${args[*]} " == *" --data "* ]] || theirs+=(--data "$data")
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%Y-%m-%d)"
ratios=()
for round in $(seq "$rounds"); do
  ours_out=$("${ours[@]}")
  theirs_out=$("${theirs[@]}")
  echo "round $round:"
  echo "$ours_out" | sed 's/^/  /'
  echo "  $theirs_out"
  a=$(echo "$ours_out" | head -1 | grep -oE '[0-9]+ images/s' | cut -d' ' -f1)
  b=$(echo "$theirs_out" | grep -oE '[0-9]+ images/s' | cut -d' ' -f1)
  awk -v a="$a" -v b="$b" 'BEGIN { printf "  ratio: ours/pytorch images/s = %.3f (step time %.3fx pytorch)\n", a / b, b / a }'
  ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.4f", b / a }')")
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ r[NR] = $1 } END { printf "median step time ours/pytorch over %d rounds: %.3f (min %.3f, max %.3f)\n", NR, (NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2), r[1], r[NR] }'
