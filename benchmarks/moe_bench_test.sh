#!/usr/bin/env bash
# moe_bench still runs and verifies at a reduced shape in both modes, repeats its
# virtual times for a seed, and refuses bad arguments.
set -euo pipefail
bench="$1"
fail() { echo "FAIL: $*" >&2; exit 1; }
small=(--ep 2,4 --tokens 16 --hidden 256 --topk 4 --experts 16)

out=$("$bench" "${small[@]}") || fail "deterministic mode exited $?: $out"
grep -q "^verified:" <<<"$out" || fail "deterministic mode did not verify: $out"
grep -q "times are virtual" <<<"$out" || fail "deterministic mode does not say its times are virtual"
[ "$(grep -c "dispatch\|combine" <<<"$out")" -ge 4 ] || fail "missing rows: $out"
again=$("$bench" "${small[@]}")
[ "$out" = "$again" ] || fail "the same seed gave other figures"

out=$("$bench" "${small[@]}" --mode fast --routing skewed --element-bytes 1 --moe-mode normal --iterations 2) ||
  fail "fast mode exited $?: $out"
grep -q "^verified:" <<<"$out" || fail "fast mode did not verify: $out"
grep -q "wall time" <<<"$out" || fail "fast mode does not say its times are wall time"

for bad in "--ep 0" "--ep 3" "--tokens x" "--mode warp" "--routing zipf" "--moe-mode low-latency --tokens 200" "--frobnicate"; do
  set +e
  err=$("$bench" "${small[@]}" $bad 2>&1 >/dev/null); rc=$?
  set -e
  [ "$rc" -eq 2 ] || fail "'$bad' exited $rc, expected 2"
  [ -n "$err" ] || fail "'$bad' printed no error"
done
"$bench" --help | grep -q "usage: moe_bench" || fail "--help prints no usage"
echo "moe_bench_test: passed"
