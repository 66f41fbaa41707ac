#!/usr/bin/env bash
# Records the shipped libraries' public API changes in PublicAPI.Unshipped.txt (Watermark.Core and
# Watermark.TorchSharp): the build fails with RS0016/RS0017 when the public API and those files disagree;
# this applies Microsoft.CodeAnalysis.PublicApiAnalyzers' own code fix. Review the diff it leaves.
set -euo pipefail
cd "$(dirname "$0")/.."
for project in src/Watermark.Core/Watermark.Core.csproj src/Watermark.Runtime/Watermark.Runtime.csproj; do
  dotnet format analyzers "$project" --diagnostics RS0016 RS0017 --severity info
done
git --no-pager diff --stat -- 'src/*/PublicAPI.*.txt' || true
