#!/usr/bin/env bash
# ferry diff on hand-written reports (rows, the tolerance, exit codes, unreadable files)
# and ferry bench on small sweeps (tables, verified elements, bad arguments).
set -euo pipefail
ferry="$1"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*" >&2; exit 1; }

report() {  # report FILE SEED P50 COMPLETED ERRORS EXTRA_WORKLOAD
  local extra=""
  [ -n "$6" ] && extra=", {\"name\": \"$6\", \"kind\": \"pp\", \"completed\": true, \"bytes\": 1, \"errors\": []}"
  cat >"$1" <<JSON
{
  "scenario": "s", "provider": "emu", "mode": "deterministic", "seed": $2, "ok": $4,
  "trace_hash": "h$2", "simulated_ns": 1000, "wall_s": 0.5$2, "errors": [],
  "workloads": [
    {"name": "kv", "kind": "pd_disagg", "completed": $4, "operations": 4, "bytes": 1048576,
     "latency_p50_ns": $3, "wall_s": 0.1$2, "errors": [$5]}$extra
  ]
}
JSON
}

report "$tmp/a.json" 1 1000 true "" ""
report "$tmp/same.json" 2 1000 true "" ""
report "$tmp/slower.json" 1 1040 true "" ""
report "$tmp/much.json" 1 1200 true "" ""
report "$tmp/failed.json" 1 1000 false '"request 3: timed out"' ""
report "$tmp/more.json" 1 1000 true "" "stages"

# Only the seed and the hash differ: shown, not counted; wall time left out.
out=$("$ferry" diff "$tmp/a.json" "$tmp/same.json") || fail "seed-only difference exited $?: $out"
grep -q "^(run) *seed *1 *2 " <<<"$out" || fail "no seed row in: $out"
grep -q "trace_hash" <<<"$out" || fail "no trace_hash row in: $out"
grep -q "wall_s" <<<"$out" && fail "wall_s compared without --wall: $out"
grep -q "beyond the tolerance of 5%" <<<"$out" || fail "no summary line in: $out"
out=$("$ferry" diff --wall "$tmp/a.json" "$tmp/same.json" || true)
grep -q "wall_s" <<<"$out" || fail "no wall_s row with --wall: $out"

# +4% passes the default tolerance; +20% does not, unless the tolerance allows it.
out=$("$ferry" diff "$tmp/a.json" "$tmp/slower.json") || fail "+4% exited $?: $out"
grep -q "^kv *latency_p50_ns *1000 *1040 *+4.0%$" <<<"$out" || fail "no +4% row in: $out"
set +e
out=$("$ferry" diff "$tmp/a.json" "$tmp/much.json"); rc=$?
set -e
[ "$rc" -eq 1 ] || fail "+20% exited $rc, expected 1: $out"
grep -q "^kv *latency_p50_ns *1000 *1200 *+20.0%  !$" <<<"$out" || fail "no marked +20% row in: $out"
"$ferry" diff --tolerance 25 "$tmp/a.json" "$tmp/much.json" >/dev/null || fail "+20% within 25% exited $?"

# A verdict that changed, more errors, a workload only in one report: all count.
set +e
out=$("$ferry" diff "$tmp/a.json" "$tmp/failed.json"); rc=$?
set -e
[ "$rc" -eq 1 ] || fail "failed run exited $rc: $out"
grep -q "^kv *completed *true *false *differs  !$" <<<"$out" || fail "no completed row in: $out"
grep -q "^kv *errors (count) *0 *1 *differs  !$" <<<"$out" || fail "no errors row in: $out"
set +e
out=$("$ferry" diff "$tmp/a.json" "$tmp/more.json"); rc=$?
set -e
[ "$rc" -eq 1 ] || fail "extra workload exited $rc: $out"
grep -q "^stages *(workload) *- *present *only in report  !$" <<<"$out" || fail "no workload row in: $out"
out=$("$ferry" diff --all "$tmp/a.json" "$tmp/a.json") || fail "identical reports exited $?"
grep -q "^kv *bytes *1048576 *1048576" <<<"$out" || fail "--all lists no equal figure: $out"

# Unreadable input: the file and the place, exit 1; bad options: exit 2.
printf '{"workloads": [1, 2' >"$tmp/cut.json"
echo '{"scenario": "x"}' >"$tmp/other.json"
for bad in "$tmp/cut.json|cut.json:1:20: expected ',' or ']' in an array" \
           "$tmp/other.json|not a replay report" "$tmp/none.json|none.json: cannot read"; do
  file="${bad%%|*}"; want="${bad#*|}"
  set +e
  err=$("$ferry" diff "$tmp/a.json" "$file" 2>&1 >/dev/null); rc=$?
  set -e
  [ "$rc" -eq 1 ] || fail "diff with $file exited $rc"
  grep -qF "$want" <<<"$err" || fail "diff with $file said '$err', expected '$want'"
done
set +e
"$ferry" diff --tolerance -3 "$tmp/a.json" "$tmp/a.json" 2>/dev/null; rc=$?
set -e
[ "$rc" -eq 2 ] || fail "--tolerance -3 exited $rc, expected 2"

# bench: the transfer sweep and two collectives, every element checked.
out=$("$ferry" bench transfer --min-bytes 1024 --max-bytes 65536) || fail "bench transfer exited $?: $out"
grep -q "size  *count  *type  *redop  *root  *time(us)  *algbw(GB/s)  *busbw(GB/s)  *#wrong" <<<"$out" \
  || fail "no nccl-tests header in: $out"
grep -q "^# send_recv, 2 ranks" <<<"$out" || fail "no send_recv table in: $out"
grep -q "^  *65536  *16384  *float  *none  *-1 .* 0$" <<<"$out" || fail "no 64 KiB row in: $out"
grep -q "# wrong elements: 0" <<<"$out" || fail "wrong elements in: $out"
out=$("$ferry" bench --ranks 4 --max-bytes 65536 --collectives all_reduce,all_to_all) || fail "bench exited $?"
grep -q "^# all_reduce, 4 ranks" <<<"$out" && grep -q "^# all_to_all, 4 ranks" <<<"$out" || fail "tables missing: $out"
# On sim, over a leaf-spine: every element checked, and virtual time makes a seed
# reproduce the table exactly.
sim_args="--provider sim --topology leaf-spine --hosts-per-leaf 2 --spines 2 --ranks 4 --max-bytes 65536 --collectives all_reduce,all_to_all"
out=$("$ferry" bench $sim_args) || fail "bench on sim exited $?: $out"
grep -q "^# collective sweep: 4 ranks on sim, leaf-spine of 2 ranks a leaf, 2 spines, oversubscription 1, pfc " <<<"$out" || fail "no sim header in: $out"
grep -q "^# all_reduce, 4 ranks" <<<"$out" && grep -q "^# all_to_all, 4 ranks" <<<"$out" || fail "tables missing: $out"
grep -q "# wrong elements: 0" <<<"$out" || fail "wrong elements on sim in: $out"
again=$("$ferry" bench $sim_args) || fail "second bench on sim exited $?"
[ "$out" = "$again" ] || fail "the same seed gave two tables on sim: $out ---- $again"
for bad in "--ranks 0" "--mode warp" "--collectives all_reduce,bogus" "warp" "transfer --ranks 1" \
           "--provider verbs" "--provider sim --mode fast" "--topology leaf-spine" "--provider sim --topology ring" \
           "--provider sim --spines 2" "--provider sim --topology leaf-spine --oversubscription 0.5" \
           "--flow-control pfc" "--provider sim --flow-control lossy"; do
  set +e
  err=$("$ferry" bench $bad 2>&1 >/dev/null); rc=$?
  set -e
  [ "$rc" -eq 2 ] || fail "'bench $bad' exited $rc, expected 2"
  grep -q "^ferry bench: " <<<"$err" || fail "'bench $bad' said: $err"
done
echo "diff_bench_test: passed"
