#!/bin/bash
# Ten thousand swarm seeds in every run of the test command: seeds 1001 to 11000 (the
# unit test, swarm_test, runs 1 to 1000 under the sanitizers) over two worker processes,
# through the CLI a developer uses to reproduce a failure. The test command runs it in the
# optimised build, where the sweep takes one to two minutes on two cores
# (docs/reliability.md); it is tagged manual so that `bazel test //...` leaves it out.
set -u
ferry="$1"
out="${TEST_TMPDIR:-$(mktemp -d)}/sweep.txt"

"$ferry" swarm --seeds 10000 --first 1001 --jobs 2 >"$out" 2>&1
rc=$?
cat "$out"
# The sweep's own verdict line, and an exit status that agrees with it.
grep -q '^10000 seeds, 0 failed' "$out" || { echo "FAIL: the sweep did not pass 10000 seeds (exit $rc)"; exit 1; }
[ "$rc" -eq 0 ] || { echo "FAIL: ferry swarm exited $rc although no seed failed"; exit 1; }
echo "PASS"
