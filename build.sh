#!/usr/bin/env bash
# The project's one entry point: checks and applies the set-up, then runs the demo or the tests.
#   ./build.sh demo     embed a watermark for real and verify it (offline, about a minute)
#   ./build.sh test     build everything and run every test project
set -euo pipefail
cd "$(dirname "$0")"

usage() {
  sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2
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
  *)
    usage
    exit 2
    ;;
esac
