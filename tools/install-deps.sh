#!/usr/bin/env bash
# Installs the Debian packages ferry needs to build and test, and nothing else.
#
# Idempotent: when every package is already installed it only asks dpkg and
# returns in well under a second. Otherwise it runs `apt-get update` once and
# installs just the missing packages. Needs root (or sudo) only in that case.
# Works without a TTY and without stdin.
#
# Usage: bash tools/install-deps.sh [softroce]
#   softroce  also what the Soft-RoCE runner needs (hw_tests/softroce/run.sh)
set -euo pipefail

PACKAGES=(
  bazel-bootstrap     # Bazel 4.2.3, the build tool
  bazel-rules-java    # /usr/share/bazel/rules/java, referenced by WORKSPACE
  g++                 # C++20 compiler
  libgtest-dev        # unit tests
  libgmock-dev        # mocks in unit tests
  libbenchmark-dev    # //emu:emu_bench
  libibverbs-dev      # rdma-core headers and libibverbs (the verbs provider)
  ibverbs-providers   # rdma-core user-space drivers (mlx5, efa, rxe, ...)
  libns3-dev          # ns-3, for the packet-level simulation
  libyaml-dev         # scenario files
  python3             # used by tools/test.sh to summarise results
  clang               # builds the scenario parser's libFuzzer target (tools/fuzz.sh)
  libclang-rt-14-dev  # libFuzzer and clang's sanitizer runtimes
  chromium            # renders report.html headless in its test
  python3-dev         # Python 3.11 headers for the ferry extension module (python/)
  pybind11-dev        # C++ bindings of the ferry Python package
  python3-numpy       # arrays the Python package registers, and its tests
  python3-pytest      # runs the Python package's tests (//python:python_test)
  etcd-server         # the cluster directory the multi-process tests start (docs/deployment.md)
  openmpi-bin         # mpirun, to launch ranks as nccl-tests users do
  iproute2            # ip netns, veth pairs and a bridge: hosts on one machine in tests
)

if [ "${1:-}" = "softroce" ]; then
  PACKAGES+=(
    qemu-system-x86   # boots Debian's kernel, which has rdma_rxe
    busybox-static    # the guest's userland
    cpio              # packs the guest's initramfs
    rdma-core         # the rdma tool (rdma link add ... type rxe)
    ibverbs-utils     # ibv_devices
    perftest          # ib_write_bw, ib_write_lat: the baseline
    iproute2          # ip, in the guest
  )
fi

# Strip the trailing comments above to get bare package names.
pkgs=()
for p in "${PACKAGES[@]}"; do
  pkgs+=("${p%% *}")
done

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo -n)
  else
    echo "install-deps: missing ${missing[*]}; run as root (or install sudo) to install them" >&2
    exit 1
  fi
fi

"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update </dev/null
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
echo "install-deps: installed ${#missing[@]} of ${#pkgs[@]} packages: ${missing[*]}"
