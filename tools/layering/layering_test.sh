#!/bin/bash
# Runs the layering check's self-test, then the check on the source tree.
# Bazel gives the test only its declared files; the tree is found through the
# link of the workspace's README.md back to the checkout.
set -euo pipefail

script="$1"
root="$(dirname "$(readlink -f "$2")")"

/usr/bin/python3 "$script" --self-test
/usr/bin/python3 "$script" "$root"
