#!/usr/bin/env bash
# Runs ferry's main job: installs any missing packages, then builds (optimised)
# and runs //tools:demo, which moves data between two emulated nodes, verifies
# it and prints what it did. Extra arguments are passed to the demo.
#
# Usage: bash tools/main.sh [demo args...]     (works from any directory)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Keep stdout for the demo's own report.
bash tools/install-deps.sh >&2

exec bazel run --config=opt //tools:demo -- "$@"
