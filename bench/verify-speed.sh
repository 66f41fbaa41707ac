#!/usr/bin/env bash
# Times whole-process `watermark verify` of a WRN-10-4-sized checkpoint (1.2M weights, TorchSharp .dat):
# median and best wall time and peak resident memory over RUNS runs (default 20), measured with
# GNU time, for the framework-dependent build (`dotnet watermark.dll`) and the NativeAOT binary.
# When python3 can import torch, the same check in PyTorch (load the state_dict, filter mean,
# projection) runs beside it on the same weights. `verify --reference` (issue #17) is timed on a copy of
# a marked checkpoint whose host's input channels were permuted with the producer conv and batch norm:
# plain verify says absent there, the aligned check present. The NativeAOT binary also reads the same
# weights as safetensors and as a torch.save checkpoint (.pt). Usage: bench/verify-speed.sh [--no-aot]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-20}
aot=1
[ "${1:-}" = "--no-aot" ] && aot=0
command -v /usr/bin/time >/dev/null || { echo "error: GNU time is needed: apt-get install time" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

dotnet build src/Watermark.Cli -c Release -nologo -v q >/dev/null
dotnet run --project bench/VerifySpeed -c Release -- "$work/wrn.dat"
cli=(dotnet src/Watermark.Cli/bin/Release/net10.0/watermark.dll)
"${cli[@]}" keygen --model "$work/wrn.dat" --param g2.block0.conv2.weight --bits 256 --out "$work/key.json" >/dev/null

# The reference for --reference carries the key's mark; the suspect is it with conv2's input channels
# permuted together with conv1's filters and bn2 (the function is unchanged).
dotnet run --project bench/VerifySpeed -c Release -- mark "$work/wrn.dat" "$work/key.json" "$work/marked.dat" >/dev/null
b=g2.block0
"${cli[@]}" attack permute --model "$work/marked.dat" --param $b.conv1.weight --also $b.bn2.weight:0 --also $b.bn2.bias:0 \
  --also $b.bn2.running_mean:0 --also $b.bn2.running_var:0 --also $b.conv2.weight:1 --seed 1 --out "$work/suspect.dat" >/dev/null

# Random weights never carry the mark: each run must end in exit code 1 (absent), never 2; the aligned
# check of the permuted copy must end in 0 (EXPECT=0).
measure() {
  local label=$1
  shift
  local rc=0 expect=${EXPECT:-1}
  "$@" >/dev/null 2>&1 || rc=$?
  [ "$rc" -eq "$expect" ] || { echo "error: '$*' exited with $rc, expected $expect" >&2; exit 2; }
  for _ in $(seq "$runs"); do
    # Wall time from bash's microsecond clock (GNU time rounds to 10 ms); peak RSS from GNU time.
    local start=$EPOCHREALTIME
    /usr/bin/time -f "%M" -o "$work/time" "$@" >/dev/null 2>&1 || true
    local end=$EPOCHREALTIME
    # GNU time adds a "Command exited with non-zero status 1" line before its number.
    echo "$start $end $(grep -E '^[0-9]+$' "$work/time")"
  done | awk '{ printf "%.6f %d\n", $2 - $1, $3 }' | sort -n | awk -v label="$label" '
    { wall[NR] = $1; if ($2 > peak) peak = $2 }
    END { printf "%-34s median %7.1f ms  best %7.1f ms  peak RSS %6.1f MiB  (%d runs)\n", label, 1000 * wall[int((NR + 1) / 2)], 1000 * wall[1], peak / 1024, NR }'
}

# The first Python that imports torch: $PYTHON, python3 on PATH, then Debian's (apt-get install python3-torch).
py=""
for candidate in ${PYTHON:-} python3 /usr/bin/python3; do
  if "$candidate" -c 'import torch' 2>/dev/null; then py=$candidate; break; fi
done
# The same weights as safetensors and as a checkpoint torch.save wrote (issue #14: .pt verify ≈ safetensors verify).
"${cli[@]}" convert --model "$work/wrn.dat" --out "$work/wrn.safetensors" >/dev/null
[ -z "$py" ] || "$py" bench/verify_pytorch.py prepare "$work/wrn.safetensors" "$work/wrn.pt"

args=(verify --model "$work/wrn.dat" --key "$work/key.json")
suspect=(verify --model "$work/suspect.dat" --key "$work/key.json")
reference=(verify --model "$work/suspect.dat" --key "$work/key.json" --reference "$work/marked.dat")
producer=("${reference[@]}" --producer $b.conv1.weight,$b.bn2)
measure "watermark (dotnet watermark.dll)" "${cli[@]}" "${args[@]}"
measure "  permuted copy, plain" "${cli[@]}" "${suspect[@]}"
EXPECT=0 measure "  permuted copy, --reference" "${cli[@]}" "${reference[@]}"
EXPECT=0 measure "  permuted copy, --reference --producer" "${cli[@]}" "${producer[@]}"
if [ "$aot" -eq 1 ]; then
  dotnet publish src/Watermark.Cli -c Release -r linux-x64 -p:PublishAot=true -nologo -v q -o "$work/aot" >/dev/null
  measure "watermark (NativeAOT)" "$work/aot/watermark" "${args[@]}"
  measure "  permuted copy, plain" "$work/aot/watermark" "${suspect[@]}"
  EXPECT=0 measure "  permuted copy, --reference" "$work/aot/watermark" "${reference[@]}"
  EXPECT=0 measure "  permuted copy, --reference --producer" "$work/aot/watermark" "${producer[@]}"
  measure "  same weights, .safetensors" "$work/aot/watermark" verify --model "$work/wrn.safetensors" --key "$work/key.json"
  if [ -n "$py" ]; then
    measure "  same weights, .pt (torch.save)" "$work/aot/watermark" verify --model "$work/wrn.pt" --key "$work/key.json"
  fi
fi

if [ -n "$py" ]; then
  # The Python check prints its bits and exits 0; wrap it so measure's exit-code check reads "absent".
  measure "PyTorch $("$py" -c 'import torch; print(torch.__version__)') (load, filter mean, Xw)" bash -c '"$1" bench/verify_pytorch.py verify "$2" g2.block0.conv2.weight 256 >/dev/null && exit 1' _ "$py" "$work/wrn.pt"
else
  echo "PyTorch side skipped: no python3 here imports torch (on Debian: apt-get install python3-torch), then run again."
fi
