#!/usr/bin/env bash
# The main job works: both modes verify every byte, the deterministic mode repeats its
# trace hash for a seed and changes it with the seed, and bad arguments exit 2.
set -euo pipefail
demo="$1"
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$("$demo" --bytes 1048576) || fail "fast mode exited $?"
grep -q "all transfers verified" <<<"$out" || fail "fast mode did not verify: $out"

hash_of() { "$demo" --mode deterministic --seed "$1" --bytes 65536 | sed -n 's/^trace hash \([0-9a-f]*\).*/\1/p'; }
a=$(hash_of 7); b=$(hash_of 7); c=$(hash_of 8)
[ -n "$a" ] || fail "no trace hash printed"
[ "$a" = "$b" ] || fail "seed 7 gave two hashes: $a $b"
[ "$a" != "$c" ] || fail "seeds 7 and 8 gave the same hash $a"

for bad in "--mode warp" "--bytes 0" "--bytes -5" "--seed x" "--frobnicate"; do
  set +e
  err=$("$demo" $bad 2>&1 >/dev/null); rc=$?
  set -e
  [ "$rc" -eq 2 ] || fail "'$bad' exited $rc, expected 2"
  [ -n "$err" ] || fail "'$bad' printed no error"
done
"$demo" --help | grep -q "usage: demo" || fail "--help prints no usage"
echo "demo_test: 1 passed, 0 failed"
