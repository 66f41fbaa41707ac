#!/usr/bin/env bash
# Times `watermark scan` (NativeAOT, --jobs = cores) over FILES (default 1,000) WRN-10-4-sized model files of
# mixed formats (.dat, .safetensors, .onnx and torch.save'd .pt in turn: copies of 4 random checkpoints, each
# file its own inode) read from the page cache, beside bench/scan_pytorch.py — the same check as a PyTorch
# loop in one process (torch.load, filter mean, projection) — over the .pt files, which are all torch.load
# reads. Reports models/s (whole process for scan; the loop alone for PyTorch, in its favour) and scan's peak
# RSS over a quarter of the files and over all of them (memory must stay flat in the number of files); by
# default scan hashes every file (SHA-256, all bytes), with --no-digest it reads only headers and host tensors.
# Every run must end in exit code 1 (random weights carry no mark), never 2.
# Usage: FILES=1000 RUNS=3 bench/scan-speed.sh   (needs ~5 MB of disk per file under $TMPDIR; python3 with torch)
set -euo pipefail
cd "$(dirname "$0")/.."
files=${FILES:-1000}
runs=${RUNS:-3}
jobs=${JOBS:-$(nproc)}
command -v /usr/bin/time >/dev/null || { echo "error: GNU time is needed: apt-get install time" >&2; exit 2; }
py=""
for candidate in ${PYTHON:-} python3 /usr/bin/python3; do
  if "$candidate" -c 'import torch' 2>/dev/null; then py=$candidate; break; fi
done
[ -n "$py" ] || { echo "error: no python3 here imports torch (Debian: apt-get install python3-torch); the .pt files and the baseline need it." >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "building (NativeAOT)..."
dotnet build src/Watermark.Cli -c Release -nologo -v q >/dev/null
dotnet publish src/Watermark.Cli -c Release -r linux-x64 -p:PublishAot=true -nologo -v q -o "$work/aot" >/dev/null
cli=("$work/aot/watermark")

echo "writing 4 checkpoints in 4 formats, then $files files..."
mkdir -p "$work/base" "$work/models"
for s in 1 2 3 4; do
  dotnet run --project bench/VerifySpeed -c Release -- "$work/base/wrn$s.dat" "$s" >/dev/null
  "${cli[@]}" convert --model "$work/base/wrn$s.dat" --out "$work/base/wrn$s.safetensors" >/dev/null
  "${cli[@]}" convert --model "$work/base/wrn$s.dat" --out "$work/base/wrn$s.onnx" >/dev/null
  "$py" bench/verify_pytorch.py prepare "$work/base/wrn$s.safetensors" "$work/base/wrn$s.pt"
done
"${cli[@]}" keygen --model "$work/base/wrn1.dat" --param g2.block0.conv2.weight --bits 256 --out "$work/key.json" >/dev/null
formats=(dat safetensors onnx pt)
for ((i = 0; i < files; i++)); do
  cp "$work/base/wrn$(((i / 4) % 4 + 1)).${formats[i % 4]}" "$(printf '%s/models/m%05d.%s' "$work" "$i" "${formats[i % 4]}")"
done
mkdir -p "$work/quarter"
for f in $(ls "$work/models" | head -n $((files / 4))); do ln "$work/models/$f" "$work/quarter/$f"; done
cat "$work/models"/* >/dev/null # into the page cache
echo "  $(ls "$work/models" | wc -l) files, $(du -sh "$work/models" | cut -f1)"

# median wall time and the largest peak RSS over $runs runs of a command that must exit with 1.
measure() {
  local label=$1 count=$2
  shift 2
  local rc=0
  "$@" >"$work/out" 2>"$work/err" || rc=$?
  [ "$rc" -eq 1 ] || { echo "error: '$*' exited with $rc, expected 1 (absent); stderr: $(tail -3 "$work/err")" >&2; exit 2; }
  for _ in $(seq "$runs"); do
    local start=$EPOCHREALTIME
    /usr/bin/time -f "%M" -o "$work/time" "$@" >/dev/null 2>&1 || true
    local end=$EPOCHREALTIME
    echo "$start $end $(grep -E '^[0-9]+$' "$work/time")"
  done | awk '{ printf "%.6f %d\n", $2 - $1, $3 }' | sort -n | awk -v label="$label" -v n="$count" '
    { wall[NR] = $1; if ($2 > peak) peak = $2 }
    END { m = wall[int((NR + 1) / 2)]; printf "%-44s %6d files  median %8.3f s  %9.1f models/s  peak RSS %6.1f MiB  (%d runs)\n", label, n, m, n / m, peak / 1024, NR }'
}

pts=("$work/models"/*.pt)
echo
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1); scan --jobs $jobs; PyTorch $("$py" -c 'import torch; print(torch.__version__)') with 1 thread"
measure "scan, all formats" "$files" "${cli[@]}" scan "$work/models" --key "$work/key.json" --jobs "$jobs" --output "$work/scan.jsonl" --force
measure "scan, all formats, a quarter of them" "$(ls "$work/quarter" | wc -l)" "${cli[@]}" scan "$work/quarter" --key "$work/key.json" --jobs "$jobs" --output "$work/scan.jsonl" --force
measure "scan --no-digest, all formats" "$files" "${cli[@]}" scan "$work/models" --key "$work/key.json" --jobs "$jobs" --no-digest --output "$work/scan.jsonl" --force
measure "scan --no-digest, a quarter of them" "$(ls "$work/quarter" | wc -l)" "${cli[@]}" scan "$work/quarter" --key "$work/key.json" --jobs "$jobs" --no-digest --output "$work/scan.jsonl" --force
measure "scan, the .pt files" "${#pts[@]}" "${cli[@]}" scan "${pts[@]}" --key "$work/key.json" --jobs "$jobs" --output "$work/scan.jsonl" --force
measure "scan --no-digest, the .pt files" "${#pts[@]}" "${cli[@]}" scan "${pts[@]}" --key "$work/key.json" --jobs "$jobs" --no-digest --output "$work/scan.jsonl" --force
measure "scan --no-digest --jobs 1, the .pt files" "${#pts[@]}" "${cli[@]}" scan "${pts[@]}" --key "$work/key.json" --jobs 1 --no-digest --output "$work/scan.jsonl" --force
"$py" bench/scan_pytorch.py "$runs" g2.block0.conv2.weight 256 "${pts[@]}"
