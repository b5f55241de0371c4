#!/bin/bash
# ferry replay across hosts, the hosts being network namespaces of this machine
# (tools/multihost/netns.sh): a real etcd on the bridge, one namespace per node of the
# default scenario, the tcp provider between them, every byte verified on each node.
# Then the faults a deployment meets, each ending in bounded errors, never a hang:
#   - node 1's process killed mid-run: node 0 fails, naming node 1;
#   - node 1's link taken down mid-run: node 0 fails naming node 1 (whose lease expires
#     in the directory), node 1 fails naming node 0 or the directory it cannot reach.
# Needs root (namespaces), iproute2 and etcd (tools/install-deps.sh installs them).
set -u
ferry="$(realpath "$1")"
netns="$(realpath "$2")"
scenario="$(realpath "$3")"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
mkdir -p "$tmp"
fail() { echo "FAIL: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "network namespaces need root"
command -v etcd >/dev/null || fail "etcd is not installed: run bash tools/install-deps.sh"
command -v ip >/dev/null || fail "ip (iproute2) is not installed: run bash tools/install-deps.sh"

name="fy$(( $$ % 100000 ))"
etcd_pid=""
cleanup() {
  [ -n "$etcd_pid" ] && kill -9 "$etcd_pid" 2>/dev/null
  bash "$netns" down "$name"
}
trap cleanup EXIT

bash "$netns" up "$name" 2 >"$tmp/hosts" || fail "could not make the namespaces"
host0=$(awk '$1 == "'"$name"'-0" {print $2}' "$tmp/hosts")
host1=$(awk '$1 == "'"$name"'-1" {print $2}' "$tmp/hosts")
bridge=$(awk '$1 == "bridge" {print $2}' "$tmp/hosts")

# etcd on the bridge: the one address every namespace reaches.
port=$(( 20000 + $$ % 20000 ))
etcd --name "$name" --data-dir "$tmp/etcd" \
  --listen-client-urls "http://$bridge:$port" --advertise-client-urls "http://$bridge:$port" \
  --listen-peer-urls "http://$bridge:$((port + 1))" --initial-advertise-peer-urls "http://$bridge:$((port + 1))" \
  --initial-cluster "$name=http://$bridge:$((port + 1))" >"$tmp/etcd.log" 2>&1 &
etcd_pid=$!
ready=0
for _ in $(seq 100); do
  if /usr/bin/python3 -c "
import json, sys, urllib.request
urllib.request.urlopen(urllib.request.Request('http://$bridge:$port/v3/kv/range', data=b'{\"key\":\"AA==\"}'), timeout=1)
" 2>/dev/null; then ready=1; break; fi
  sleep 0.2
done
[ $ready -eq 1 ] || { cat "$tmp/etcd.log"; fail "etcd did not start on $bridge:$port"; }
directory="etcd://$bridge:$port"

# node I's process in namespace I; extra arguments after the first two.
start_node() {
  local node="$1" host="$2" cluster="$3"
  shift 3
  ip netns exec "$name-$node" timeout 300 "$ferry" replay "$scenario" --provider tcp --node "$node" \
    --directory "$directory" --cluster "$cluster" --host "$host" --out "$tmp/$cluster" "$@" \
    >"$tmp/$cluster-n$node.log" 2>&1
}

# 1. The default scenario across two hosts.
start_node 0 "$host0" whole &
first=$!
start_node 1 "$host1" whole
rc1=$?
wait $first
rc0=$?
[ $rc0 -eq 0 ] && [ $rc1 -eq 0 ] || { cat "$tmp"/whole-n*.log; fail "nodes exited $rc0 and $rc1"; }
for node in 0 1; do
  grep -q "^node $node: every byte its ranks received verified" "$tmp/whole-n$node.log" ||
    { cat "$tmp/whole-n$node.log"; fail "node $node did not verify its bytes"; }
done
echo "ok: the default scenario over two namespaces, etcd at $directory"

# Waits until node 1's log shows it has begun the KV migration, the longest workload.
wait_until_migrating() {
  local log="$1"
  for _ in $(seq 600); do
    grep -q "pd_disagg (pd_disagg)" "$log" && return 0
    sleep 0.1
  done
  return 1
}

# 2. Node 1 killed during a longer run.
start_node 0 "$host0" kill --scale 20 &
survivor=$!
start_node 1 "$host1" kill --scale 20 &
victim=$!
wait_until_migrating "$tmp/kill-n1.log" || { cat "$tmp"/kill-n*.log; fail "node 1 never began the migration"; }
sleep 0.5
ip netns pids "$name-1" | xargs -r kill -9
wait $victim 2>/dev/null
killed_at=$(date +%s)
wait $survivor
rc=$?
took=$(( $(date +%s) - killed_at ))
[ $rc -ne 0 ] && [ $rc -ne 124 ] || { cat "$tmp/kill-n0.log"; fail "node 0 exited $rc after node 1 died (124: it hung)"; }
grep -q "lost node 1" "$tmp/kill-n0.log" || { cat "$tmp/kill-n0.log"; fail "node 0's error does not name node 1"; }
echo "ok: node 1 killed, node 0 failed within $took s naming it"

# 3. Node 1's link down during a longer run: node 0 loses node 1, node 1 loses node 0
# or the directory (etcd is on the other side of the link too).
start_node 0 "$host0" link --scale 20 &
side0=$!
start_node 1 "$host1" link --scale 20 &
side1=$!
wait_until_migrating "$tmp/link-n1.log" || { cat "$tmp"/link-n*.log; fail "node 1 never began the migration"; }
sleep 0.5
bash "$netns" link "$name" 1 down
down_at=$(date +%s)
wait $side0
rc0=$?
wait $side1
rc1=$?
took=$(( $(date +%s) - down_at ))
for pair in "0 $rc0" "1 $rc1"; do
  set -- $pair
  [ "$2" -ne 0 ] && [ "$2" -ne 124 ] || { cat "$tmp/link-n$1.log"; fail "node $1 exited $2 with the link down (124: it hung)"; }
done
grep -q "lost node 1" "$tmp/link-n0.log" || { cat "$tmp/link-n0.log"; fail "node 0's error does not name node 1"; }
grep -Eq "lost node 0|lost the directory" "$tmp/link-n1.log" ||
  { cat "$tmp/link-n1.log"; fail "node 1's error names neither node 0 nor the directory"; }
echo "ok: node 1's link down, both nodes failed within $took s, node 0 naming node 1"
