#!/usr/bin/env bash
# Fuzzes every parser of bytes from outside with libFuzzer, within a bounded time: the
# scenario parser, and each wire format a peer can send ferry:
#
#   scenario_fuzzer          scenarios/fuzz/               scenario YAML
#   exchange_frame_fuzzer    transport/engine/fuzz/        TCP exchange frames
#   handshake_fuzzer         transport/engine/fuzz/        the engine's hello and "connected"
#   region_descriptor_fuzzer transport/engine/fuzz/        region descriptors
#   control_message_fuzzer   transport/engine/fuzz/        control channel messages
#   moe_wire_fuzzer          transport/workloads/moe/fuzz/ MoE dispatch and combine messages
#   slot_header_fuzzer       transport/workloads/pp/fuzz/  pipeline slot headers
#   tcp_wire_fuzzer          transport/tcp/fuzz/           the tcp provider's address, hello, frames
#
# Builds each fuzzer (its entry point with the sources of the parser it calls) with clang
# (-fsanitize=fuzzer,address,undefined; Bazel's toolchain here is gcc, which has no
# libFuzzer), seeds its corpus with valid inputs (the shipped scenarios, the files under
# each fuzz/seeds/), and runs them one after another, splitting SECONDS (default 60)
# evenly among them, at least 5 s each. Any crash, sanitizer report, leak, timeout or
# broken parser invariant fails the run; the input that caused it is kept and its path
# printed with the command that replays it.
#
# Usage: bash tools/fuzz.sh [SECONDS]
# Replay: $FERRY_FUZZ_DIR/NAME/NAME FILE  (runs one input, e.g. a kept crash, and exits)
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

# run NAME WHAT SEEDS [libFuzzer flags...]: adds the files SEEDS (a glob) to the corpus
# and fuzzes for $each seconds; fails the script on a failure.
run() {
  local name="$1" what="$2" seeds="$3"
  shift 3
  local work="$base/$name" binary="$base/$name/$name"
  # shellcheck disable=SC2086  # seeds is a glob
  cp $seeds "$work/corpus/"
  echo "fuzz.sh: fuzzing $what for ${each}s (corpus $work/corpus)"
  local rc=0
  "$binary" -max_total_time="$each" -timeout=10 -rss_limit_mb=2048 "$@" \
    -artifact_prefix="$work/crashes/" -print_final_stats=1 \
    "$work/corpus" 2>&1 | grep -v '^#[0-9]*[[:space:]]*\(NEW\|REDUCE\|pulse\)\|^"\|^[[:space:]]*NEW_FUNC' || rc="${PIPESTATUS[0]}"
  if [ "$rc" -ne 0 ]; then
    echo "fuzz.sh: FAILED on $what (exit $rc); inputs that failed:" >&2
    ls -1 "$work/crashes/" >&2 || true
    echo "replay one with: $binary $work/crashes/FILE" >&2
    exit 1
  fi
}

# Every fuzzer is built first, so that the time split below is all fuzzing.
# The scenario parser's sources are the scenarios library's: every .cc in scenarios/ but tests.
scenario_sources=()
for f in scenarios/*.cc; do
  case "$f" in *_test.cc) ;; *) scenario_sources+=("$f") ;; esac
done
build scenario_fuzzer "-lyaml" -- "${scenario_sources[@]}" scenarios/fuzz/scenario_fuzzer.cc
build exchange_frame_fuzzer "" -- transport/engine/fuzz/exchange_frame_fuzzer.cc \
  transport/engine/tcp_exchange.cc transport/engine/exchange.cc transport/result.cc
build handshake_fuzzer "" -- transport/engine/fuzz/handshake_fuzzer.cc transport/engine/hello.cc
build region_descriptor_fuzzer "" -- transport/engine/fuzz/region_descriptor_fuzzer.cc \
  transport/engine/region_descriptor.cc transport/result.cc
build control_message_fuzzer "" -- transport/engine/fuzz/control_message_fuzzer.cc \
  transport/engine/control_channel.cc
build moe_wire_fuzzer "" -- transport/workloads/moe/fuzz/moe_wire_fuzzer.cc \
  transport/workloads/moe/wire_format.cc transport/result.cc
build slot_header_fuzzer "" -- transport/workloads/pp/fuzz/slot_header_fuzzer.cc \
  transport/workloads/pp/stage_link.cc transport/result.cc
build tcp_wire_fuzzer "" -- transport/tcp/fuzz/tcp_wire_fuzzer.cc transport/tcp/wire.cc transport/result.cc

fuzzers=8  # the runs below
each=$(( seconds / fuzzers ))
if [ "$each" -lt 5 ]; then each=5; fi

run scenario_fuzzer "the scenario parser" "scenarios/*.yaml" -max_len=16384 -dict=scenarios/fuzz/scenario.dict
run exchange_frame_fuzzer "the exchange frame parser" "transport/engine/fuzz/seeds/exchange_frame/*" -max_len=8192
run handshake_fuzzer "the handshake parsers" "transport/engine/fuzz/seeds/handshake/*" -max_len=4096
run region_descriptor_fuzzer "the region descriptor parser" "transport/engine/fuzz/seeds/region_descriptor/*" -max_len=512
run control_message_fuzzer "the control channel's receive side" "transport/engine/fuzz/seeds/control_message/*" -max_len=8192
run moe_wire_fuzzer "the MoE dispatch and combine parsers" "transport/workloads/moe/fuzz/seeds/*" -max_len=4096
run slot_header_fuzzer "the pipeline slot header parser" "transport/workloads/pp/fuzz/seeds/*" -max_len=64
run tcp_wire_fuzzer "the tcp provider's wire checks" "transport/tcp/fuzz/seeds/*" -max_len=64

echo "fuzz.sh: ok, no failure in ${each}s for each of $fuzzers fuzzers"
