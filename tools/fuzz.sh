#!/usr/bin/env bash
# Fuzzes the scenario parser and the TCP exchange's frame parser with libFuzzer, each
# for a bounded time.
#
# Builds each fuzzer (scenarios/fuzz/scenario_fuzzer.cc with the scenario library,
# transport/engine/fuzz/exchange_frame_fuzzer.cc with the exchange) with clang
# (-fsanitize=fuzzer,address,undefined; Bazel's toolchain here is gcc, which has no
# libFuzzer), seeds the scenario corpus with the shipped scenarios, and runs each for
# SECONDS (default 60). Any crash, sanitizer report, leak or broken parser invariant
# fails the run; the input that caused it is kept and its path printed with the command
# that replays it.
#
# Usage: bash tools/fuzz.sh [SECONDS]
# Environment: FERRY_FUZZ_DIR  build and corpus folder (default ~/.cache/ferry/fuzz);
#              the corpora grow from run to run there.
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

base="${FERRY_FUZZ_DIR:-$HOME/.cache/ferry/fuzz}"

# build NAME LIBS -- SOURCES...: builds $base/NAME/NAME when a source or header changed
# since its last build (headers: those of the sources' folders).
build() {
  local name="$1" libs="$2"
  shift 3
  local work="$base/$name" binary="$base/$name/$name"
  # An earlier layout kept the scenario fuzzer's binary where its folder now goes.
  if [ -e "$work" ] && [ ! -d "$work" ]; then rm -f "$work"; fi
  mkdir -p "$work/corpus" "$work/crashes"
  local folders
  folders="$(for f in "$@"; do dirname "$f"; done | sort -u)"
  local stamp
  stamp="$(cat "$@" $(for d in $folders; do ls "$d"/*.h 2>/dev/null; done) "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)"
  if [ ! -x "$binary" ] || [ "$(cat "$work/stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "fuzz.sh: building $binary with clang"
    # shellcheck disable=SC2086  # libs is a list of flags
    clang++ -std=c++20 -O1 -g -fno-omit-frame-pointer \
      -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
      -I"$root" "$@" $libs -o "$binary.tmp"
    mv "$binary.tmp" "$binary"
    echo "$stamp" > "$work/stamp"
  fi
}

# run NAME WHAT [libFuzzer flags...]: fuzzes for $seconds; fails the script on a failure.
run() {
  local name="$1" what="$2"
  shift 2
  local work="$base/$name" binary="$base/$name/$name"
  echo "fuzz.sh: fuzzing $what for ${seconds}s (corpus $work/corpus)"
  local rc=0
  "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 "$@" \
    -artifact_prefix="$work/crashes/" -print_final_stats=1 \
    "$work/corpus" 2>&1 | grep -v '^#[0-9]*[[:space:]]*\(NEW\|REDUCE\|pulse\)\|^"' || rc="${PIPESTATUS[0]}"
  if [ "$rc" -ne 0 ]; then
    echo "fuzz.sh: FAILED on $what (exit $rc); inputs that failed:" >&2
    ls -1 "$work/crashes/" >&2 || true
    echo "replay one with: $binary $work/crashes/FILE" >&2
    exit 1
  fi
}

# The scenario parser's sources are the scenarios library's: every .cc in scenarios/ but tests.
scenario_sources=()
for f in scenarios/*.cc; do
  case "$f" in *_test.cc) ;; *) scenario_sources+=("$f") ;; esac
done
build scenario_fuzzer "-lyaml" -- "${scenario_sources[@]}" scenarios/fuzz/scenario_fuzzer.cc
cp scenarios/*.yaml "$base/scenario_fuzzer/corpus/"
run scenario_fuzzer "the scenario parser" -max_len=16384 -dict=scenarios/fuzz/scenario.dict

build exchange_frame_fuzzer "" -- transport/engine/fuzz/exchange_frame_fuzzer.cc \
  transport/engine/tcp_exchange.cc transport/engine/exchange.cc transport/result.cc
run exchange_frame_fuzzer "the exchange frame parser" -max_len=8192

echo "fuzz.sh: ok, no failure in ${seconds}s each"
