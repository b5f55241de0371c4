#!/bin/bash
# ferry replay spread over processes, one per cluster node, over tcp on loopback:
# --launch starts both nodes of the default scenario and each verifies its bytes; two
# processes started by hand a second apart meet in a file:// directory; a node killed
# mid-run makes the survivor fail within a bound, naming the lost node; mpirun's
# processes take their node from its environment; bad input is refused clearly.
set -u
ferry="$1"
scenario=scenarios/default.yaml  # two nodes of four GPUs: every workload kind crosses them
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
mkdir -p "$tmp"
fail() { echo "FAIL: $*"; exit 1; }

# Both nodes' report.json say ok, each for its own node and ranks, the other node ok.
check_reports() {
  local out="$1"
  python3 - "$out" <<'PY' || fail "reports in $out"
import json, os, sys
out = sys.argv[1]
for node in (0, 1):
    r = json.load(open(os.path.join(out, "node%d" % node, "report.json")))
    def check(cond, what):
        if not cond:
            print("node%d: %s" % (node, what)); sys.exit(1)
    check(r["ok"] is True and r["provider"] == "tcp", "not ok on tcp")
    check(r["node"] == node and r["nodes"] == 2 and r["local_ranks"] == [4 * node, 4 * node + 4], "placement")
    check(r["peers"] == ["node %d: ok" % (1 - node)], "peers " + str(r["peers"]))
    kinds = {w["kind"]: w for w in r["workloads"]}
    check(len(kinds) == 5 and all(w["completed"] for w in kinds.values()), "workloads")
    # tp_decode is node 0's alone; every other kind crosses both nodes.
    for kind in ("pd_disagg", "moe", "pp", "weight_load"):
        check(kinds[kind]["operations"] == kinds[kind]["planned"] > 0, kind + " ran nothing here")
    check((kinds["tp_decode"]["planned"] > 0) == (node == 0), "tp_decode's placement")
PY
}

# 1. --launch: both nodes of the default scenario in one command.
out="$tmp/launch"
timeout 300 "$ferry" replay "$scenario" --provider tcp --launch 2 --out "$out" >"$tmp/launch.log" 2>&1
rc=$?
[ $rc -eq 0 ] || { cat "$tmp/launch.log"; fail "--launch 2 exited $rc"; }
for node in 0 1; do
  grep -q "^\[node $node\] node $node: every byte its ranks received verified" "$tmp/launch.log" ||
    { cat "$tmp/launch.log"; fail "node $node did not verify its bytes"; }
done
grep -q "^launch: 2 processes: node 0 ok, node 1 ok" "$tmp/launch.log" || fail "launch summary"
check_reports "$out"
echo "ok: --launch 2"

# 2. Two processes by hand, the second a second later (the first looks it up lazily).
dir="file://$tmp/dir-manual"
out="$tmp/manual"
timeout 300 "$ferry" replay "$scenario" --provider tcp --node 0 --directory "$dir" --out "$out" >"$tmp/n0.log" 2>&1 &
first=$!
sleep 1
timeout 300 "$ferry" replay "$scenario" --provider tcp --node 1 --directory "$dir" --out "$out" >"$tmp/n1.log" 2>&1
rc1=$?
wait $first
rc0=$?
[ $rc0 -eq 0 ] && [ $rc1 -eq 0 ] || { cat "$tmp/n0.log" "$tmp/n1.log"; fail "--node 0/1 exited $rc0/$rc1"; }
grep -q "^node 0: every byte its ranks received verified" "$tmp/n0.log" || fail "node 0 did not verify"
grep -q "^node 1: every byte its ranks received verified" "$tmp/n1.log" || fail "node 1 did not verify"
check_reports "$out"
echo "ok: --node 0 and --node 1, a second apart"

# 3. Node 1 killed during a longer run: node 0 fails within a bound, naming node 1.
dir="file://$tmp/dir-kill"
timeout 120 "$ferry" replay "$scenario" --provider tcp --scale 20 --node 0 --directory "$dir" --out "$tmp/kill" \
  >"$tmp/k0.log" 2>&1 &
survivor=$!
"$ferry" replay "$scenario" --provider tcp --scale 20 --node 1 --directory "$dir" --out "$tmp/kill" >"$tmp/k1.log" 2>&1 &
victim=$!
for _ in $(seq 600); do
  grep -q "pd_disagg (pd_disagg)" "$tmp/k1.log" && break
  sleep 0.1
done
grep -q "pd_disagg (pd_disagg)" "$tmp/k1.log" || { cat "$tmp/k0.log" "$tmp/k1.log"; fail "node 1 never reached pd_disagg"; }
sleep 0.5
kill -9 $victim
wait $victim 2>/dev/null
killed_at=$(date +%s)
wait $survivor
rc=$?
took=$(( $(date +%s) - killed_at ))
[ $rc -ne 0 ] && [ $rc -ne 124 ] || { cat "$tmp/k0.log"; fail "the survivor exited $rc (124: it hung)"; }
[ $took -le 30 ] || fail "the survivor took $took s to notice"
grep -q "lost node 1" "$tmp/k0.log" || { cat "$tmp/k0.log"; fail "the survivor's error does not name node 1"; }
echo "ok: a killed node fails the other within $took s"

# 4. mpirun's processes take their node from its environment.
if command -v mpirun >/dev/null; then
  timeout 300 mpirun --allow-run-as-root --oversubscribe -np 2 "$ferry" replay "$scenario" --provider tcp \
    --directory "file://$tmp/dir-mpi" --out "$tmp/mpi" >"$tmp/mpi.log" 2>&1
  rc=$?
  [ $rc -eq 0 ] || { cat "$tmp/mpi.log"; fail "mpirun -np 2 exited $rc"; }
  check_reports "$tmp/mpi"
  echo "ok: mpirun -np 2"
else
  echo "skipped: mpirun is not installed"
fi

# 5. Bad input: each refused at once with a message saying what is wrong.
expect_refusal() {
  local want_rc="$1" pattern="$2"
  shift 2
  timeout 30 "$ferry" replay "$scenario" "$@" --out "$tmp/bad" >"$tmp/bad.log" 2>&1
  local rc=$?
  [ $rc -eq "$want_rc" ] || { cat "$tmp/bad.log"; fail "'$*' exited $rc, expected $want_rc"; }
  grep -q -- "$pattern" "$tmp/bad.log" || { cat "$tmp/bad.log"; fail "'$*' did not say '$pattern'"; }
}
expect_refusal 2 "cluster has 2 nodes (0 to 1)" --provider tcp --node 2 --directory "file://$tmp/dir-bad"
expect_refusal 2 "emu runs every rank in one process" --provider emu --node 0 --directory "file://$tmp/dir-bad"
expect_refusal 2 "sim runs every rank in one process" --provider sim --launch 2
expect_refusal 1 "accepted: etcd://HOST:PORT" --provider tcp --node 0 --directory "etcd:/nohost"
expect_refusal 2 "give --directory" --provider tcp --node 0
expect_refusal 2 "start one process per node" --provider tcp --launch 3
OMPI_COMM_WORLD_RANK=0 OMPI_COMM_WORLD_SIZE=3 expect_refusal 2 "mpirun started 3 processes" --provider tcp \
  --directory "file://$tmp/dir-bad"
# A peer that runs another scenario (here: another --max-ops) is refused by name.
dir="file://$tmp/dir-mismatch"
timeout 60 "$ferry" replay "$scenario" --provider tcp --node 0 --max-ops 2 --directory "$dir" --out "$tmp/mm" \
  --peer-timeout 20 >"$tmp/mm0.log" 2>&1 &
other=$!
expect_refusal 1 "node 0 runs another replay" --provider tcp --node 1 --directory "$dir" --peer-timeout 20
wait $other
grep -q "node 1 runs another replay" "$tmp/mm0.log" || { cat "$tmp/mm0.log"; fail "node 0 did not refuse node 1"; }
# A peer that never comes: an error naming it within --peer-timeout.
expect_refusal 1 "no answer from node 1 within 1000 ms" --provider tcp --node 0 --directory "file://$tmp/dir-alone" \
  --peer-timeout 1
echo "ok: bad input"
echo PASS
