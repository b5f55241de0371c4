#!/usr/bin/env bash
# Hosts on one machine: N network namespaces joined by a bridge, as docs/deployment.md
# uses them to try ferry across hosts without a second machine. Needs root and iproute2.
#
#   bash tools/multihost/netns.sh up NAME N     namespaces NAME-0 .. NAME-(N-1), each with
#                                               one veth to the bridge NAME-br; prints one
#                                               "namespace address" line per host, then
#                                               "bridge address" (the root namespace's side,
#                                               where a shared etcd can listen)
#   bash tools/multihost/netns.sh down NAME     removes them (and anything left of NAME)
#   bash tools/multihost/netns.sh link NAME I up|down   brings host I's link up or down
#
# NAME: at most 8 letters or digits (interface names are at most 15 bytes). The subnet is
# 10.200.S.0/24 with S from NAME's checksum, so that several sets can coexist; hosts are
# .1 .. .N, the bridge .254. Nothing is routed out of the bridge.
set -euo pipefail

usage() {
  sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

[ $# -ge 2 ] || usage
command="$1"
name="$2"
[[ "$name" =~ ^[a-z0-9]{1,8}$ ]] || { echo "netns.sh: NAME '$name' must be 1 to 8 lowercase letters or digits" >&2; exit 2; }
subnet="10.200.$(( $(printf '%s' "$name" | cksum | cut -d' ' -f1) % 250 + 1 ))"
bridge="$name-br"

case "$command" in
  up)
    [ $# -eq 3 ] && [[ "$3" =~ ^[0-9]+$ ]] && [ "$3" -ge 1 ] && [ "$3" -le 200 ] ||
      { echo "netns.sh: up needs a host count from 1 to 200" >&2; exit 2; }
    hosts="$3"
    ip link add "$bridge" type bridge
    ip addr add "$subnet.254/24" dev "$bridge"
    ip link set "$bridge" up
    for i in $(seq 0 $((hosts - 1))); do
      ns="$name-$i"
      ip netns add "$ns"
      ip link add "$name-v$i" type veth peer name eth0 netns "$ns"
      ip link set "$name-v$i" master "$bridge" up
      ip -n "$ns" addr add "$subnet.$((i + 1))/24" dev eth0
      ip -n "$ns" link set eth0 up
      ip -n "$ns" link set lo up
      echo "$ns $subnet.$((i + 1))"
    done
    echo "bridge $subnet.254"
    ;;
  down)
    for ns in $(ip netns list | awk '{print $1}' | grep -E "^$name-[0-9]+$" || true); do
      ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
      ip netns del "$ns"
    done
    ip link del "$bridge" 2>/dev/null || true
    ;;
  link)
    [ $# -eq 4 ] && [[ "$3" =~ ^[0-9]+$ ]] && { [ "$4" = up ] || [ "$4" = down ]; } || usage
    ip link set "$name-v$3" "$4"
    ;;
  *) usage ;;
esac
