#!/usr/bin/env bash
# tcp_bench between two network namespaces joined by a veth pair, so that the bytes
# cross a (virtual) link instead of the loopback device. Needs root.
#
#   bash benchmarks/tcp_netns.sh [tcp_bench flags...]
#
# Builds //benchmarks:tcp_bench with --config=opt, makes namespaces ferry_tcp_a
# (10.77.0.1) and ferry_tcp_b (10.77.0.2), runs the benchmark with its writing side in
# the first and its target side in the second, and removes them again, even on failure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ $(id -u) -ne 0 ]]; then
  echo "tcp_netns.sh: needs root (ip netns, veth)" >&2
  exit 1
fi
bazel build --config=opt //benchmarks:tcp_bench
bench="$(bazel info --config=opt bazel-bin)/benchmarks/tcp_bench"

a=ferry_tcp_a
b=ferry_tcp_b
cleanup() {
  ip netns del "$a" 2>/dev/null || true
  ip netns del "$b" 2>/dev/null || true
}
trap cleanup EXIT
cleanup
ip netns add "$a"
ip netns add "$b"
ip link add ferry_veth_a netns "$a" type veth peer name ferry_veth_b netns "$b"
ip -n "$a" addr add 10.77.0.1/24 dev ferry_veth_a
ip -n "$b" addr add 10.77.0.2/24 dev ferry_veth_b
for ns in "$a" "$b"; do
  ip -n "$ns" link set lo up
done
ip -n "$a" link set ferry_veth_a up
ip -n "$b" link set ferry_veth_b up

"$bench" --netns_a="$a" --host_a=10.77.0.1 --netns_b="$b" --host_b=10.77.0.2 "$@"
