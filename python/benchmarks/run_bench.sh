#!/bin/bash
# Runs python_bench.py against the extension Bazel built, with Debian's /usr/bin/python3
# (the interpreter the extension is built for). Arguments after the first two go to the
# benchmark.
set -euo pipefail
package="$(cd "$(dirname "$1")" && pwd)"
bench="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
# shellcheck source=python/sanitizer_env.sh
source "$(dirname "$(dirname "$1")")/sanitizer_env.sh"  # beside the package
shift 2
export PYTHONPATH="$(dirname "$package")"
export PYTHONDONTWRITEBYTECODE=1
exec /usr/bin/python3 "$bench" "$@"
