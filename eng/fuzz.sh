#!/usr/bin/env bash
# Coverage-guided fuzzing of the untrusted-input parsers (eng/fuzz/README.md): afl-fuzz (AFL++) drives
# eng/fuzz/Watermark.Fuzz through SharpFuzz, with Watermark.Core instrumented, for a set time; every
# input that crashes or hangs is replayed, grouped by bug, and the smallest per new bug is kept in the
# corpus the tests replay. Exit 0: nothing found; 1: crashes or hangs found; 64: usage.
#   eng/fuzz.sh TARGET [SECONDS]    TARGET: dat | safetensors | onnx | pytorch | detect | keyfile | all (default 300 s each)
# Environment: FUZZ_TIMEOUT_MS (per input under afl-fuzz, default 3000), FUZZ_SLOW_MS (a timed-out input
# that replays slower than this is kept as a hang, default 1000), FUZZ_HEAP_LIMIT_MB (the GC heap limit,
# so a huge allocation is an OutOfMemoryException, not a swapping machine; default 2048),
# FUZZ_KEEP_DIR (keep findings there instead of the test corpora).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

targets=(dat safetensors onnx pytorch detect keyfile)
usage() {
  echo "usage: eng/fuzz.sh TARGET [SECONDS]   TARGET: ${targets[*]} | all; SECONDS default 300 (each)" >&2
  exit 64
}
[ $# -ge 1 ] && [ $# -le 2 ] || usage
target=$1
seconds=${2:-300}
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -ge 10 ] || { echo "error: SECONDS must be a whole number ≥ 10" >&2; usage; }
if [ "$target" = all ]; then
  run_targets=("${targets[@]}")
elif [[ " ${targets[*]} " == *" $target "* ]]; then
  run_targets=("$target")
else
  usage
fi

timeout_ms=${FUZZ_TIMEOUT_MS:-3000}
slow_ms=${FUZZ_SLOW_MS:-1000}
heap_mb=${FUZZ_HEAP_LIMIT_MB:-2048}
art=$root/eng/fuzz/artifacts
sharpfuzz_version=2.3.0
# Where findings go: the Cli tests replay Corpus/ (CorpusTests, by extension); no test reads key files
# yet, so they go to Watermark.Core.Tests/Corpus/ for the replay test that is still to be written.
model_corpus=$root/tests/Watermark.Cli.Tests/Corpus
key_corpus=$root/tests/Watermark.Core.Tests/Corpus
# PyTorch checkpoints cannot be written by the library (that means writing a pickle): torch.save's own are the seeds.
seed_dirs=("$model_corpus" "$key_corpus" "$root/tests/Watermark.Core.Tests/Fixtures/pytorch")
if [ -n "${FUZZ_KEEP_DIR:-}" ]; then
  model_corpus=$FUZZ_KEEP_DIR
  key_corpus=$FUZZ_KEEP_DIR
  seed_dirs+=("$FUZZ_KEEP_DIR")
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export DOTNET_GCHeapHardLimit
DOTNET_GCHeapHardLimit=$(printf '0x%x' $((heap_mb * 1024 * 1024)))

# --- tools: afl-fuzz from Debian, the sharpfuzz instrumenter as a dotnet tool under artifacts/ -------------
if ! command -v afl-fuzz >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing afl++ (apt)..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends afl++ >/dev/null
  else
    echo "error: afl-fuzz not found; install AFL++ (Debian/Ubuntu: sudo apt-get install afl++) and run again." >&2
    exit 1
  fi
fi
if [ ! -d "$art/tools/.store/sharpfuzz.commandline/$sharpfuzz_version" ]; then
  echo "installing SharpFuzz.CommandLine $sharpfuzz_version (dotnet tool, $art/tools)..."
  rm -rf "$art/tools"
  dotnet tool install SharpFuzz.CommandLine --version "$sharpfuzz_version" --tool-path "$art/tools" >/dev/null
fi

# --- build, then instrument a private copy of Watermark.Core only --------------------------------------
echo "building eng/fuzz/Watermark.Fuzz (Release)..."
mkdir -p "$art"
if ! dotnet build eng/fuzz/Watermark.Fuzz -c Release -nologo -v q >"$art/build.log" 2>&1; then
  cat "$art/build.log" >&2
  exit 1
fi
stamp=$(date +%Y%m%d-%H%M%S)
bin=$art/bin-$stamp-$$
cp -a eng/fuzz/Watermark.Fuzz/bin/Release/net10.0 "$bin"
"$art/tools/sharpfuzz" "$bin/Watermark.Core.dll" >/dev/null
harness=("dotnet" "$bin/Watermark.Fuzz.dll")

# replay TARGET LIMIT_MS OUT ERR FILE...: one line per file in OUT, "status<TAB>ms<TAB>format<TAB>signature<TAB>file";
# status crash | hang | died (the process ended: stack overflow, abort) | ok | rejected. Exceptions go to ERR.
replay() {
  local t=$1 limit=$2 out=$3 err=$4
  shift 4
  local pending=("$@")
  while [ ${#pending[@]} -gt 0 ]; do
    local lines rc=0
    lines=$(timeout $(( (limit / 1000 + 30) * ${#pending[@]} + 60 )) "${harness[@]}" replay "$t" --timeout-ms "$limit" "${pending[@]}" 2>>"$err") || rc=$?
    local done_count=0
    while IFS=$'\t' read -r tag file status ms format signature; do
      [ "$tag" = RESULT ] || continue
      printf '%s\t%s\t%s\t%s\t%s\n' "$status" "$ms" "$format" "$signature" "$file" >>"$out"
      done_count=$((done_count + 1))
    done <<<"$lines"
    if [ "$done_count" -ge ${#pending[@]} ]; then
      break
    fi
    if [ "$rc" = 2 ]; then
      # A hang: its line is printed, and the process stopped there.
      pending=("${pending[@]:$done_count}")
    else
      # The process ended without a result for this file: it killed the runtime (or the outer timeout did).
      printf 'died\t-\t-\tdied(exit %s)@%s\t%s\n' "$rc" "$t" "${pending[$done_count]}" >>"$out"
      echo "=== ${pending[$done_count]}: the process ended with exit status $rc (no managed exception to show)" >>"$err"
      pending=("${pending[@]:$((done_count + 1))}")
    fi
  done
}

extension_of() {
  case $1 in
    TorchSharpDat) echo .dat ;;
    Safetensors) echo .safetensors ;;
    Onnx) echo .onnx ;;
    PyTorchCheckpoint) echo .pt ;;
    keyfile) echo .json ;;
    *) echo "" ;;
  esac
}

explicit_target_of() {
  case $1 in
    TorchSharpDat) echo dat ;;
    Safetensors) echo safetensors ;;
    Onnx) echo onnx ;;
    PyTorchCheckpoint) echo pytorch ;;
    *) echo "" ;;
  esac
}

fmt() { printf "%'d" "$1" 2>/dev/null || echo "$1"; }

overall=0
summaries=()

fuzz_one() {
  local t=$1
  local run=$art/runs/$t-$stamp
  mkdir -p "$run/candidates" "$run/in" "$run/findings"
  echo
  echo "=== $t: ${seconds} s, run folder $run"

  # Seeds: valid files from the library's writers, plus the committed corpus of this format.
  "${harness[@]}" seeds "$t" "$run/candidates"
  local extensions=() f d e
  case $t in
    dat) extensions=(dat bin) ;;
    safetensors) extensions=(safetensors) ;;
    onnx) extensions=(onnx) ;;
    pytorch) extensions=(pt pth ckpt) ;;
    detect) extensions=(dat bin safetensors onnx pt) ;;
    keyfile) extensions=(json) ;;
  esac
  for d in "${seed_dirs[@]}"; do
    for e in "${extensions[@]}"; do
      for f in "$d"/*."$e"; do
        [ -f "$f" ] && cp "$f" "$run/candidates/"
      done
    done
  done

  # Replay them first: a corpus input that still fails is reported (and its bug counted as known); only
  # inputs that pass go to afl-fuzz, which refuses a crashing seed.
  local seeds_out=$run/seeds.tsv
  : >"$seeds_out"
  replay "$t" "$timeout_ms" "$seeds_out" "$run/seeds-exceptions.txt" "$run/candidates"/*
  local known=() still_failing=0 status ms format signature file
  while IFS=$'\t' read -r status ms format signature file; do
    case $status in
      ok | rejected) cp "$file" "$run/in/" ;;
      *)
        known+=("$signature")
        still_failing=$((still_failing + 1))
        echo "  corpus input still fails: $(basename "$file"): $status $signature"
        ;;
    esac
  done <"$seeds_out"
  echo "  seeds: $(find "$run/in" -type f | wc -l) passing inputs ($still_failing failing, excluded)"

  local dict=()
  case $t in
    keyfile) dict=(-x "$root/eng/fuzz/dict/keyfile.dict") ;;
    safetensors | detect) dict=(-x "$root/eng/fuzz/dict/safetensors.dict") ;;
    pytorch) dict=(-x "$root/eng/fuzz/dict/pickle.dict") ;;
  esac

  # afl-fuzz: dotnet is not an instrumented binary (SharpFuzz speaks the fork-server protocol itself),
  # no UI (a log instead), no CPU pinning (shared machine), crashes detected without a core dump.
  echo "  afl-fuzz running (log: $run/afl.log)..."
  local afl_rc=0
  AFL_NO_UI=1 AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 \
    AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_FORKSRV_INIT_TMOUT=60000 AFL_NO_CRASH_README=1 \
    timeout --kill-after=30 $((seconds + 300)) \
    afl-fuzz -i "$run/in" -o "$run/out" -t "$timeout_ms" -m none -V "$seconds" "${dict[@]}" \
    -- "${harness[@]}" "$t" >"$run/afl.log" 2>&1 &
  local afl_pid=$!
  # Progress: afl-fuzz rewrites fuzzer_stats about once a minute.
  local stats=$run/out/default/fuzzer_stats shown=0 now
  while kill -0 "$afl_pid" 2>/dev/null; do
    sleep 5
    now=$(awk -F' *: ' '$1 == "run_time" {print $2}' "$stats" 2>/dev/null || true)
    if [ -n "$now" ] && [ "$now" -gt "$shown" ]; then
      echo "  ... $(awk -F' *: ' '/^(run_time|execs_done|corpus_count|saved_crashes|saved_hangs) /{printf "%s %s  ", $1, $2}' "$stats")"
      shown=$now
    fi
  done
  wait "$afl_pid" || afl_rc=$?
  if [ ! -f "$stats" ]; then
    echo "error: afl-fuzz did not start fuzzing (exit $afl_rc); the end of $run/afl.log:" >&2
    tail -20 "$run/afl.log" >&2
    overall=1
    summaries+=("$t: afl-fuzz failed to start (exit $afl_rc), see $run/afl.log")
    return
  fi
  stat_of() { awk -F' *: ' -v k="$1" '$1 == k {print $2}' "$stats"; }
  local execs per_sec run_time paths edges crashes hangs
  execs=$(stat_of execs_done)
  run_time=$(stat_of run_time)
  per_sec=$(awk -v e="$execs" -v s="$run_time" 'BEGIN{printf "%d", (s > 0 ? e / s : 0)}')
  paths=$(stat_of corpus_count)
  edges=$(stat_of edges_found)
  crashes=$(stat_of saved_crashes)
  hangs=$(stat_of saved_hangs)

  # Triage: replay every crash and hang, group by signature (exception type + innermost library frame).
  local found=$run/found.tsv
  : >"$found"
  local crash_files=() hang_files=()
  for f in "$run/out/default/crashes"/id:*; do [ -f "$f" ] && crash_files+=("$f"); done
  for f in "$run/out/default/hangs"/id:*; do [ -f "$f" ] && hang_files+=("$f"); done
  [ ${#crash_files[@]} -eq 0 ] || replay "$t" $((timeout_ms * 3)) "$found" "$run/exceptions.txt" "${crash_files[@]}"
  [ ${#hang_files[@]} -eq 0 ] || replay "$t" $((timeout_ms * 3)) "$found" "$run/exceptions.txt" "${hang_files[@]}"

  # Per signature: how many inputs, and the smallest. Timeouts that replay fast (machine load) and crashes
  # that do not reproduce are counted, not kept.
  declare -A count=() smallest=() size=() fmt_of=()
  local unreproduced=0 size_now
  while IFS=$'\t' read -r status ms format signature file; do
    case $status in
      crash | died | hang) ;;
      ok | rejected)
        if [[ "$file" == */hangs/* ]] && [ "$ms" -ge "$slow_ms" ]; then
          signature="slow@$t"
        else
          unreproduced=$((unreproduced + 1))
          continue
        fi
        ;;
    esac
    size_now=$(stat -c %s "$file")
    count[$signature]=$(( ${count[$signature]:-0} + 1 ))
    if [ -z "${smallest[$signature]:-}" ] || [ "$size_now" -lt "${size[$signature]}" ]; then
      smallest[$signature]=$file
      size[$signature]=$size_now
      fmt_of[$signature]=$format
    fi
  done <"$found"

  local lines=() new=0 sig
  for sig in "${!count[@]}"; do
    local file=${smallest[$sig]} format=${fmt_of[$sig]} note=""
    if [[ " ${known[*]:-} " == *" $sig "* ]]; then
      lines+=("known:  $sig (${count[$sig]} inputs; a corpus file already reproduces it)")
      overall=1
      continue
    fi
    new=$((new + 1))
    overall=1
    local ext hash name dest
    ext=$(extension_of "$format")
    hash=$(sha256sum "$file" | cut -c1-12)
    if [ -z "$ext" ]; then
      dest=$run/findings/$t-$hash
      cp "$file" "$dest"
      note=" (format unknown: not added to a test corpus)"
    else
      if [ "$t" = keyfile ]; then
        name=keyfile-$hash$ext
        dest=$key_corpus/$name
      else
        name=$(echo "$format" | tr '[:upper:]' '[:lower:]')-$hash$ext
        dest=$model_corpus/$name
      fi
      mkdir -p "$(dirname "$dest")"
      cp "$file" "$dest"
      chmod 644 "$dest" # afl-fuzz writes its findings 0600
      cp "$file" "$run/findings/$name"
      # The tests replay a model file with the format its extension names; check it fails that way too.
      if [ "$t" = detect ] && [ -n "$(explicit_target_of "$format")" ]; then
        local check=$run/detect-check.tsv
        : >"$check"
        replay "$(explicit_target_of "$format")" $((timeout_ms * 3)) "$check" /dev/null "$dest"
        if cut -f1 "$check" | grep -qE '^(ok|rejected)$'; then
          note=" (fails only through detection: CorpusTests, which passes the format, will not see it)"
        fi
      fi
    fi
    # The whole exception of the kept input, for the report.
    replay "$t" $((timeout_ms * 3)) /dev/null "$run/findings/$(basename "$dest").txt" "$dest"
    lines+=("NEW:    $sig (${count[$sig]} inputs, smallest ${size[$sig]} bytes) -> $dest$note")
  done

  local summary
  summary="$t: ${run_time} s, $(fmt "$execs") execs ($(fmt "$per_sec")/s), $paths paths, $edges edges; afl-fuzz saved $crashes crashes, $hangs hangs; $new new bugs, $unreproduced not reproduced"
  summaries+=("$summary")
  echo "  $summary"
  for sig in "${lines[@]}"; do
    echo "    $sig"
    summaries+=("    $sig")
  done
  if [ ${#lines[@]} -gt 0 ]; then
    echo "    exceptions and stacks: $run/findings/*.txt (kept inputs), $run/exceptions.txt (all); replays: $run/found.tsv"
    summaries+=("    exceptions and stacks: $run/findings/*.txt, $run/exceptions.txt")
  fi
  [ "$still_failing" -eq 0 ] || overall=1
  unset count smallest size fmt_of
}

for t in "${run_targets[@]}"; do
  fuzz_one "$t"
done
rm -rf "$bin"

echo
echo "=== summary"
printf '%s\n' "${summaries[@]}"
if [ "$overall" != 0 ]; then
  echo "crashes or hangs found, see above. Model inputs kept in tests/Watermark.Cli.Tests/Corpus are replayed by"
  echo "CorpusTests from now on; key files kept in tests/Watermark.Core.Tests/Corpus are not replayed by any test yet."
fi
exit "$overall"
