#!/usr/bin/env bash
# Runs ferry's main job: installs any missing packages, then builds (optimised)
# the ferry command and replays the default scenario (scenarios/default.yaml: all
# five inference patterns, scaled to run in seconds) on the in-process emulator,
# printing a summary table and writing ferry-out/report.json.
#
# Usage: bash tools/main.sh                 the default replay
#        bash tools/main.sh ARGS...         runs `ferry ARGS...` instead, e.g.
#        bash tools/main.sh replay scenarios/llama3-70b-tp8-decode.yaml --scale 0.01
# Relative paths are taken from the repository root. Works from any directory.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

# Keep stdout for ferry's own report.
bash tools/install-deps.sh >&2

if [ "$#" -eq 0 ]; then
  set -- replay "$root/scenarios/default.yaml" --out "$root/ferry-out"
fi
# ferry resolves relative paths against the directory bazel run was started in: here,
# the repository root.
exec bazel run --config=opt //tools/ferry -- "$@"
