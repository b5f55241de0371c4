#!/bin/bash
# ferry replay on emu: the default scenario replays and verifies (exit 0), the same seed
# gives the same figures, and a scenario whose node vanishes reports errors (exit 1)
# without crashing or hanging.
set -u
ferry="$1"
default="$2"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*"; exit 1; }

"$ferry" replay "$default" --quiet --out "$tmp/a" || fail "default.yaml exited $?"
for kind in tp_decode pd_disagg moe pp weight_load; do
  grep -q "\"kind\": \"$kind\"" "$tmp/a/report.json" || fail "no $kind in report.json"
done
grep '"bytes":' "$tmp/a/report.json" | grep -q '"bytes": 0,' && fail "a workload moved no bytes"
grep -q '"ok": true' "$tmp/a/report.json" || fail "report not ok"

"$ferry" replay "$default" --quiet --scale 0.25 --seed 7 --out "$tmp/b" || fail "scaled run exited $?"
"$ferry" replay "$default" --quiet --scale 0.25 --seed 7 --out "$tmp/c" || fail "scaled rerun exited $?"
grep -v wall_s "$tmp/b/report.json" > "$tmp/b.txt"
grep -v wall_s "$tmp/c/report.json" > "$tmp/c.txt"
diff "$tmp/b.txt" "$tmp/c.txt" || fail "the same seed gave different figures"

cat > "$tmp/faults.yaml" <<'YAML'
name: faults
cluster: {nodes: 2, gpus_per_node: 2, nics_per_node: 1, nic_rate: 100 Gb/s}
fabric: {provider: emu, mode: deterministic, seed: 3}
model: mixtral-8x22b
workloads:
  - {kind: pp, stages: 4, tp: 1, micro_batches: 16, micro_batch_tokens: 64}
  - {kind: weight_load, size: 8 MiB, fanout: 1, chunk: 1 MiB}
faults:
  - {at: 20 us, kind: node_loss, node: 1}
YAML
"$ferry" replay "$tmp/faults.yaml" --quiet --out "$tmp/f"
rc=$?
[ "$rc" = 1 ] || fail "fault scenario exited $rc, expected 1"
grep -q '"ok": false' "$tmp/f/report.json" || fail "fault report says ok"
grep -q '"faults_applied": 1' "$tmp/f/report.json" || fail "fault not applied"

"$ferry" replay "$default" --provider sim 2>/dev/null
[ "$?" = 2 ] || fail "--provider sim should exit 2"
echo PASS
