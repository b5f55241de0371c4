#!/usr/bin/env bash
# Runs every GPU test and GPU benchmark on a machine with an NVIDIA GPU.
#
#   bash tools/gpu-test.sh              build here (needs /usr/local/cuda, no GPU needed)
#                                       into out/gpu/, then run them if this machine has a GPU
#   bash tools/gpu-test.sh --build      only build into out/gpu/ (to copy to a GPU machine)
#   bash tools/gpu-test.sh --run [DIR]  only run what DIR (default out/gpu) holds: on the GPU
#                                       machine, which needs the NVIDIA driver and nothing else
#
# Every test target tagged `gpu` runs as a plain binary (gtest); then the GPU benchmarks.
# It ends with `gpu: N passed, M failed, K skipped` and exits non-zero if any failed.
# docs/gpu.md records what it printed on the cards it ran on.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
mode="${1:-all}"
dir="${2:-out/gpu}"

build() {
  bash tools/install-deps.sh >&2 || exit 1
  local tests benches
  # The Python GPU test runs under pytest below, not as a binary.
  tests=$(bazel query 'attr(tags, "\bgpu\b", tests(//...)) except attr(tags, "\bpython\b", tests(//...))' 2>/dev/null) || exit 1
  benches=$(bazel query 'attr(tags, "\bgpu\b", kind(cc_binary, //...))' 2>/dev/null) || exit 1
  # shellcheck disable=SC2086
  # Bazel's own libraries linked in (no runfiles needed on the GPU machine).
  bazel build --config=opt --dynamic_mode=off $tests $benches || exit 1
  rm -rf "$dir"
  mkdir -p "$dir/tests" "$dir/benchmarks"
  local bin
  bin=$(bazel info --config=opt --dynamic_mode=off bazel-bin 2>/dev/null)
  for t in $tests; do
    local path="${t#//}"
    cp "$bin/${path/://}" "$dir/tests/"
  done
  for b in $benches; do
    local path="${b#//}"
    cp "$bin/${path/://}" "$dir/benchmarks/"
  done
  # The Python package and its GPU test (run when the GPU machine has python3, numpy, pytest).
  bazel build --config=opt --dynamic_mode=off //python:ferry/_ferry.so || exit 1
  mkdir -p "$dir/python/ferry"
  cp "$bin/python/ferry/_ferry.so" python/ferry/*.py "$dir/python/ferry/"
  cp python/gpu/test_gpu_memory.py "$dir/python/"
  # Debian's shared libraries the binaries need beyond the C and C++ runtimes travel too.
  mkdir -p "$dir/lib"
  ldd "$dir"/tests/* "$dir"/benchmarks/* "$dir"/python/ferry/_ferry.so 2>/dev/null | awk '/=> \// {print $3}' | sort -u |
    grep -Ev '/(libc|libm|libstdc\+\+|libgcc_s|libdl|librt|libpthread)\.so' | xargs -r cp -L -t "$dir/lib"
  # Symbols stripped: the folder travels to the GPU machine, smaller.
  chmod -R u+w "$dir"
  strip --strip-unneeded "$dir"/tests/* "$dir"/benchmarks/* "$dir"/lib/* "$dir"/python/ferry/_ferry.so
  echo "gpu-test: built $(ls "$dir/tests" | wc -l) tests and $(ls "$dir/benchmarks" | wc -l) benchmarks into $dir"
}

# tally RC LOG: one more failed, skipped or passed test into run's counts. Skipped is for
# want of a GPU (FERRY_REQUIRE_GPU and the Python test say `needs a GPU:`); a test that
# skips single cases of its own (a check a provider cannot run) has passed.
tally() {
  if [ "$1" -ne 0 ]; then
    failed=$((failed + 1))
  elif grep -q 'needs a GPU:' "$2"; then
    skipped=$((skipped + 1))
  else
    passed=$((passed + 1))
  fi
  rm -f "$2"
}

run() {
  if [ ! -d "$dir/tests" ]; then
    echo "gpu-test: nothing built in $dir (run with --build first)" >&2
    exit 1
  fi
  export LD_LIBRARY_PATH="$(cd "$dir" && pwd)/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  local passed=0 failed=0 skipped=0
  for t in "$dir"/tests/*; do
    echo "==> $(basename "$t")"
    local log
    log=$(mktemp)
    "$t" 2>&1 | tee "$log"
    tally "${PIPESTATUS[0]}" "$log"
  done
  if [ -d "$dir/python" ]; then
    echo "==> python_gpu_test"
    # The extension is built against Debian 12's Python; another minor version cannot load it.
    if ! python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      echo "python_gpu_test: skipped: the extension is built for Python 3.11, this machine's python3 is $(python3 -V 2>&1)"
      skipped=$((skipped + 1))
    elif python3 -c 'import numpy, pytest' 2>/dev/null; then
      local log
      log=$(mktemp)
      (cd "$dir/python" && PYTHONPATH=. PYTHONDONTWRITEBYTECODE=1 python3 -m pytest -q -p no:cacheprovider -rs test_gpu_memory.py) 2>&1 | tee "$log"
      tally "${PIPESTATUS[0]}" "$log"
    else
      echo "python_gpu_test: skipped: python3 with numpy and pytest is not on this machine"
      skipped=$((skipped + 1))
    fi
  fi
  for b in "$dir"/benchmarks/*; do
    echo "==> $(basename "$b")"
    "$b" --benchmark_counters_tabular=true || failed=$((failed + 1))
  done
  echo "gpu: $passed passed, $failed failed, $skipped skipped"
  [ "$failed" -eq 0 ]
}

case "$mode" in
  --build) build ;;
  --run) run ;;
  all)
    build
    if [ -e /dev/nvidia0 ] || command -v nvidia-smi >/dev/null; then
      run
    else
      echo "gpu-test: no GPU on this machine; copy $dir to one and run: bash tools/gpu-test.sh --run $dir"
    fi
    ;;
  *)
    echo "usage: bash tools/gpu-test.sh [--build | --run [DIR]]" >&2
    exit 2
    ;;
esac
