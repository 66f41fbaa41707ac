#!/usr/bin/env bash
# The project's one entry point: checks and applies the set-up, then runs the demo or the tests.
#   ./build.sh demo     embed a watermark for real and verify it (offline, about a minute)
#   ./build.sh test     build everything and run every test project
#   ./build.sh pack [OUT]  pack Watermark.Core, Watermark.TorchSharp and the watermark tool into OUT (artifacts/packages)
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")"

usage() {
  sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//' >&2
}

if ! command -v dotnet >/dev/null 2>&1; then
  echo "error: the .NET SDK 10 is not on PATH; install it (https://dot.net) and run again." >&2
  exit 1
fi
sdk_major=$(dotnet --version 2>/dev/null | cut -d. -f1)
if [ -z "$sdk_major" ] || [ "$sdk_major" -lt 10 ]; then
  echo "error: the .NET SDK 10 or newer is needed; 'dotnet --version' says '$(dotnet --version 2>/dev/null)'." >&2
  exit 1
fi

eng/ensure-native.sh

case "${1:-}" in
  demo)
    shift
    exec dotnet run --project samples/WideResNet -c Release -- demo "$@"
    ;;
  test)
    shift
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    status=0
    dotnet test Plugin.sln -c Release "$@" 2>&1 | tee "$log" || status=$?
    # One closing line over all test projects, e.g. "Total: 120 passed, 0 failed".
    awk '/^(Passed|Failed)!/ { for (i = 1; i <= NF; i++) { if ($i == "Passed:") p += $(i+1); if ($i == "Failed:") f += $(i+1) } }
         END { printf "Total: %d passed, %d failed\n", p, f }' "$log"
    exit "$status"
    ;;
  pack)
    out=$(realpath -m "${2:-artifacts/packages}")
    [ -z "${2:-}" ] || out=$(cd "$caller" && realpath -m "$2")
    # A fresh version per pack (0.1.0-dev.<UTC time>), so that no NuGet cache holds an older build
    # under the same number; a release sets WATERMARK_VERSION_SUFFIX to its suffix or to nothing.
    suffix=${WATERMARK_VERSION_SUFFIX-dev.$(date -u +%Y%m%d%H%M%S)}
    # Built apart from bin/ and obj/ (artifacts/pack), so packing never disturbs or reuses a dev build.
    # ContinuousIntegrationBuild: paths in the PDBs become /_/…, mapped to the commit by source link.
    ci=false
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then ci=true; fi
    for project in src/Watermark.Core src/Watermark.Runtime src/Watermark.Cli; do
      dotnet pack "$project" -c Release --artifacts-path artifacts/pack -o "$out" -nologo \
        -p:VersionSuffix="$suffix" -p:ContinuousIntegrationBuild="$ci"
    done
    echo "packed version suffix '$suffix' into $out"
    ;;
  *)
    usage
    exit 2
    ;;
esac
