#!/usr/bin/env bash
# The qualification suite on sim, RC and SRD: every functional and robustness check
# passes, and the performance group (virtual time, so exact: bandwidth up to 4 MiB
# messages held to the line rate, 8-byte latencies) meets its thresholds.
set -euo pipefail
qualify="$1"
fail() { echo "FAIL: $*" >&2; exit 1; }
for transport in roce srd; do
  out=$("$qualify" --provider sim --sim-transport "$transport" --only functional,robustness) \
    || fail "sim $transport exited $?: $out"
  grep -q "^functional/rail1/.*/write-with-imm  *PASS" <<<"$out" || fail "no rail-1 check on sim $transport: $out"
  grep -q "^functional/engine/striping-over-2-rails  *PASS" <<<"$out" || fail "no striping check: $out"
  grep -q " 0 failed" <<<"$out" || fail "sim $transport had failures: $out"
  out=$("$qualify" --provider sim --sim-transport "$transport" --only performance --max-bytes 4194304) \
    || fail "sim $transport performance exited $?: $out"
  grep -q "^performance/rail0/.*/write-bw/1048576  *PASS" <<<"$out" || fail "no 1 MiB write-bw row on sim $transport: $out"
  grep -q " 0 failed" <<<"$out" || fail "sim $transport performance had failures: $out"
done
set +e
err=$("$qualify" --provider sim --sim-transport tcp 2>&1); rc=$?
set -e
[ "$rc" -eq 2 ] || fail "--sim-transport tcp exited $rc, expected 2"
grep -q "sim-transport takes roce or srd" <<<"$err" || fail "--sim-transport tcp said: $err"
echo "qualify_sim_test: passed"
