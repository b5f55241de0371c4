#!/usr/bin/env bash
# Fuzzes the scenario parser with libFuzzer for a bounded time.
#
# Builds scenarios/fuzz/scenario_fuzzer.cc and the parser with clang
# (-fsanitize=fuzzer,address,undefined; Bazel's toolchain here is gcc, which has no
# libFuzzer), seeds the corpus with the shipped scenarios, and runs for SECONDS
# (default 60). Any crash, sanitizer report, leak or broken parser invariant fails
# the run; the input that caused it is kept and its path printed with the command that
# replays it.
#
# Usage: bash tools/fuzz.sh [SECONDS]
# Environment: FERRY_FUZZ_DIR  build and corpus folder (default ~/.cache/ferry/fuzz);
#              the corpus grows from run to run there.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"
seconds="${1:-60}"
case "$seconds" in
  '' | *[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, not '$seconds'" >&2; exit 2 ;;
esac

for tool in clang++ ; do
  command -v "$tool" >/dev/null || { echo "fuzz.sh: $tool not found; run: bash tools/install-deps.sh" >&2; exit 1; }
done

work="${FERRY_FUZZ_DIR:-$HOME/.cache/ferry/fuzz}"
mkdir -p "$work/corpus" "$work/crashes"
binary="$work/scenario_fuzzer"

# The parser's sources are the scenarios library's: every .cc in scenarios/ but tests.
sources=()
for f in scenarios/*.cc; do
  case "$f" in *_test.cc) ;; *) sources+=("$f") ;; esac
done
sources+=(scenarios/fuzz/scenario_fuzzer.cc)

# Rebuild only when a source or header changed since the last build.
stamp="$(cat scenarios/*.cc scenarios/*.h scenarios/fuzz/scenario_fuzzer.cc "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)"
if [ ! -x "$binary" ] || [ "$(cat "$work/stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "fuzz.sh: building $binary with clang"
  clang++ -std=c++20 -O1 -g -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$root" "${sources[@]}" -lyaml -o "$binary.tmp"
  mv "$binary.tmp" "$binary"
  echo "$stamp" > "$work/stamp"
fi

cp scenarios/*.yaml "$work/corpus/"
echo "fuzz.sh: fuzzing the scenario parser for ${seconds}s (corpus $work/corpus)"
rc=0
"$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
  -dict=scenarios/fuzz/scenario.dict -artifact_prefix="$work/crashes/" -print_final_stats=1 \
  "$work/corpus" 2>&1 | grep -v '^#[0-9]*[[:space:]]*\(NEW\|REDUCE\|pulse\)\|^"' || rc="${PIPESTATUS[0]}"
if [ "$rc" -ne 0 ]; then
  echo "fuzz.sh: FAILED (exit $rc); inputs that failed:" >&2
  ls -1 "$work/crashes/" >&2 || true
  echo "replay one with: $binary $work/crashes/FILE" >&2
  exit 1
fi
echo "fuzz.sh: ok, no failure in ${seconds}s"
