#!/usr/bin/env bash
# The benchmark keeps working: a small run over every collective exits 0 with the
# nccl-tests header and no wrong element, --help prints the usage, bad arguments exit 2.
set -euo pipefail
bench="$1"
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$("$bench" --ranks 4 --max-bytes 1048576 \
      --collectives all_reduce,all_gather,reduce_scatter,all_to_all,send_recv,broadcast) \
  || fail "exited $? on a small run: $out"
grep -q "size  *count  *type  *redop  *root  *time(us)  *algbw(GB/s)  *busbw(GB/s)  *#wrong" <<<"$out" \
  || fail "no nccl-tests header in: $out"
for c in all_reduce all_gather reduce_scatter all_to_all send_recv broadcast; do
  grep -q "^# $c, 4 ranks" <<<"$out" || fail "no $c table in: $out"
done
grep -q "^  *1048576  *262144  *float  *sum  *-1 " <<<"$out" || fail "no 1 MiB all-reduce row in: $out"
grep -q "# wrong elements: 0" <<<"$out" || fail "wrong elements in: $out"

# Forced algorithms, another type and op, fast mode.
"$bench" --ranks 3 --max-bytes 65536 --algorithm ring --dtype bfloat16 --op max \
  --collectives all_reduce,all_gather,reduce_scatter >/dev/null || fail "ring run exited $?"
"$bench" --ranks 5 --max-bytes 65536 --mode fast --algorithm two_shot >/dev/null || fail "fast run exited $?"

"$bench" --help | grep -q "usage: coll_bench" || fail "--help prints no usage"
out=$("$bench" --provider sim --ranks 4 --max-bytes 65536 --collectives all_reduce,reduce_scatter) \
  || fail "sim run exited $?: $out"
grep -q "^# collective sweep: 4 ranks on sim, one switch, pfc " <<<"$out" || fail "no sim header in: $out"
grep -q "# wrong elements: 0" <<<"$out" || fail "wrong elements on sim in: $out"

for bad in "--ranks 0" "--mode warp" "--max-bytes x" "--collectives all_reduce,bogus" "--algorithm best" "--frobnicate 1" \
           "--provider tcp" "--hosts-per-leaf 4"; do
  set +e
  err=$("$bench" $bad 2>&1 >/dev/null); rc=$?
  set -e
  [ "$rc" -eq 2 ] || fail "'$bad' exited $rc, expected 2"
  [ -n "$err" ] || fail "'$bad' printed no error"
done
echo "coll_bench_test: passed"
