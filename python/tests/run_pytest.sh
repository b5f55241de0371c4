#!/bin/bash
# Runs the ferry package's pytest suite against the extension Bazel built.
# Debian's /usr/bin/python3 (3.11) is the interpreter the extension is built for; numpy
# and pytest come from Debian packages (tools/install-deps.sh). A missing one fails the
# test, never skips it.
set -euo pipefail

# $1, $2: the extension and a test file, as runfiles paths (python/ferry/..., python/tests/...).
package="$(cd "$(dirname "$1")" && pwd)"
tests="$(cd "$(dirname "$2")" && pwd)"

python=/usr/bin/python3
if ! "$python" -c 'import numpy, pytest' 2>/dev/null; then
  echo "run_pytest: $python lacks numpy or pytest: run tools/install-deps.sh" >&2
  exit 1
fi

# The runfiles tree holds the extension and the package's sources side by side (its
# links are not followed: the extension's target lies elsewhere).
export PYTHONPATH="$(dirname "$package")"
export PYTHONDONTWRITEBYTECODE=1

# shellcheck source=python/sanitizer_env.sh
source "$(dirname "$(dirname "$1")")/sanitizer_env.sh"  # beside the package
cd "$tests"
# Skips fail the suite's run too (its conftest.py): every case there runs on every machine.
# python_gpu_test's cases skip without a GPU, with the reason.
exec "$python" -m pytest -q -p no:cacheprovider -rs \
  ${XML_OUTPUT_FILE:+--junitxml="$XML_OUTPUT_FILE"} \
  -W error::pytest.PytestUnraisableExceptionWarning \
  "$tests"
