#!/usr/bin/env bash
# BenchmarkDotNet suites (in-process, ShortRun): the regularizer against a WRN-10-4 training step, key
# derivation, extraction and the model-file readers. Reports go to bench/artifacts/ (not committed).
#   bench/run-benchmarks.sh                 every suite
#   bench/run-benchmarks.sh '*Embedding*'   one suite (BenchmarkDotNet --filter globs)
set -euo pipefail
cd "$(dirname "$0")/.."
filters=("$@")
[ ${#filters[@]} -gt 0 ] || filters=('*')
dotnet build bench/Watermark.Benchmarks -c Release -nologo -v q >/dev/null
exec dotnet bench/Watermark.Benchmarks/bin/Release/net10.0/Watermark.Benchmarks.dll --artifacts bench/artifacts --filter "${filters[@]}"
