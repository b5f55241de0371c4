#!/bin/bash
# ferry replay on emu and on sim: every shipped scenario replays, scaled down, and
# verifies (exit 0), with report.json (every workload completed and moved bytes, the
# pd_disagg requests, the NIC timelines), trace.json (valid JSON with a track per rank and
# per NIC) and report.html; the same seed gives the same report on sim; a lost node fails
# cleanly on both; verbs without an RDMA device fails fast; the default scenario runs
# and verifies over tcp too.
set -u
ferry="$1"
scenarios=scenarios  # the runfiles root (bazel test) or the repository root
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
mkdir -p "$tmp"
fail() { echo "FAIL: $*"; exit 1; }

# Checks DIR's report.json, trace.json and report.html from a successful replay on PROVIDER.
check_outputs() {
  local dir="$1" provider="$2"
  python3 - "$dir" "$provider" <<'PY' || fail "outputs of $dir"
import json, os, sys
d, provider = sys.argv[1], sys.argv[2]
r = json.load(open(os.path.join(d, "report.json")))
def check(cond, what):
    if not cond:
        print(d + ": " + what); sys.exit(1)
check(r["ok"] is True, "report not ok")
check(r["provider"] == provider, "provider is " + r["provider"])
check(r["simulated_ns"] > 0 and r["ranks"] > 0, "no simulated time or ranks")
check(len(r["workloads"]) > 0, "no workloads")
for w in r["workloads"]:
    check(w["completed"] and not w["errors"], w["name"] + " did not complete: " + str(w["errors"]))
    check(w["bytes"] > 0 and w["operations"] == w["planned"] > 0, w["name"] + " moved nothing")
    if w["kind"] == "pd_disagg":
        reqs = w["requests"]
        check(len(reqs) == w["operations"], "pd_disagg: %d requests listed" % len(reqs))
        check(all(q["kv_ns"] > 0 and q["bytes"] > 0 and q["context_tokens"] > 0 for q in reqs), "bad request timing")
        check(sum(q["bytes"] for q in reqs) == w["bytes"], "requests' bytes differ from the workload's")
        keys = next(p["keys"] for p in r["scenario_parameters"]["workloads"] if p["name"] == w["name"])
        block = int(keys["block_size"])
        # whole blocks move: a scaled-down request moves more tokens than it asked for
        check(all(q["kv_blocks"] == -(-q["context_tokens"] // block) and q["tokens_moved"] == q["kv_blocks"] * block
                  for q in reqs), "requests' blocks and tokens moved")
p = r["scenario_parameters"]
check([(w["name"], w["kind"]) for w in p["workloads"]] == [(w["name"], w["kind"]) for w in r["workloads"]],
      "scenario_parameters' workloads")
check(int(p["model"]["layers"]) > 0 and int(p["model"]["hidden_size"]) > 0 and p["model"]["name"], "model parameters")
check(int(p["cluster"]["nodes"]) > 0 and int(p["cluster"]["gpus_per_node"]) == r["gpus_per_node"], "cluster parameters")
check(len(p["cluster"]["nic_rate"].split(", ")) == int(p["cluster"]["nics_per_node"]), "nic_rate per NIC")
check(r["timing_model"].startswith(provider), "timing model: " + r["timing_model"])
names = [c["name"] for c in r["fabric_counters"]]
check("packets retransmitted" in names and "PFC pause frames" in names and "CNPs sent" in names, "counters " + str(names))
for c in r["fabric_counters"]:
    check((c["value"] is None) == ("not_counted" in c), "counter " + c["name"])
    check(c["value"] is None or c["value"] >= 0, "counter " + c["name"])
pfc = next(c for c in r["fabric_counters"] if c["name"] == "PFC pause frames")
if provider == "emu":
    check(pfc["value"] is None and pfc["not_counted"].startswith("not modelled"), "emu PFC counter")
if provider == "sim":
    check(next(c for c in r["fabric_counters"] if c["name"] == "packets retransmitted")["value"] is not None, "sim retransmits")
    pfc_off = p["fabric_provider"] == "sim" and (p["fabric"]["pfc"] == "false" or p["fabric"]["transport"] == "srd")
    check((pfc["value"] is None) == pfc_off, "sim PFC counter")
check(all(n["gbps"] > 0 and len(n["rx_bytes"]) == len(n["bytes"]) for n in r["nics"]), "NIC line rate or rx")
if r["virtual_time"]:
    check(sum(sum(n["rx_bytes"]) for n in r["nics"]) > 0, "NICs received nothing")
check(r["interval_ns"] > 0 and len(r["nics"]) > 0, "no NIC timelines")
intervals = len(r["nics"][0]["bytes"])
check(all(len(n["bytes"]) == intervals for n in r["nics"]), "timelines of different lengths")
check(intervals <= 400, "%d intervals" % intervals)
check(sum(sum(n["bytes"]) for n in r["nics"]) > 0, "NICs sent nothing")
t = json.load(open(os.path.join(d, "trace.json")))
events = t["traceEvents"]
names = {(e["pid"]): e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
check(all(names.get(rank, "").startswith("rank%d " % rank) for rank in range(r["ranks"])), "rank tracks missing")
check(any(v.startswith("NICs") for v in names.values()), "no NIC track")
spans = [e for e in events if e["ph"] == "X"]
check(t["otherData"]["spans"] == len(spans), "span count")
for w in r["workloads"]:
    check(any(e["cat"] == w["kind"] and e["args"]["workload"] == w["name"] for e in spans), "no spans of " + w["name"])
check(all(e["dur"] >= 0 and e["ts"] >= 0 for e in spans), "negative span")
counters = {e["name"] for e in events if e["ph"] == "C"}
check(counters == {n["name"] for n in r["nics"]}, "NIC counters %s" % sorted(counters))
html = open(os.path.join(d, "report.html"), encoding="utf-8").read()
for part in ['id="parameters"', 'id="counters"', 'id="faults"', "line rate", "Timing model:"]:
    check(part in html, "report.html lacks " + part)
check(('id="throughput-rx"' in html) == r["virtual_time"], "report.html's received chart")
PY
}

# Every shipped scenario on both providers, each at its scale_of.
source tools/ferry/replay/shipped_scales.sh
count=0
for file in "$scenarios"/*.yaml; do
  name=$(basename "$file" .yaml)
  for provider in emu sim; do
    out="$tmp/$name.$provider"
    "$ferry" replay "$file" --provider "$provider" --scale "$(scale_of "$file")" --max-ops 8 --quiet --out "$out" \
      > "$out.log" 2>&1
    rc=$?
    [ "$rc" = 0 ] && ! grep -q "runtime error" "$out.log" || { cat "$out.log"; fail "$name on $provider exited $rc"; }
    check_outputs "$out" "$provider"
    count=$((count + 1))
  done
done
[ "$count" -ge 20 ] || fail "only $count replays: scenarios not found"

# Every workload over TCP sockets (loopback, wall-clock time), every byte verified.
"$ferry" replay "$scenarios/default.yaml" --provider tcp --scale 0.25 --quiet --out "$tmp/default.tcp" \
  > "$tmp/default.tcp.log" 2>&1 || { cat "$tmp/default.tcp.log"; fail "default on tcp exited $?"; }
check_outputs "$tmp/default.tcp" tcp

# The same seed gives the same report on sim, bit for bit but the wall-clock figures.
for run in a b; do
  "$ferry" replay "$scenarios/default.yaml" --provider sim --scale 0.05 --seed 7 --quiet --out "$tmp/seed.$run" \
    > /dev/null 2>&1 || fail "seeded sim run $run exited $?"
  grep -v wall_s "$tmp/seed.$run/report.json" > "$tmp/seed.$run.txt"
done
diff "$tmp/seed.a.txt" "$tmp/seed.b.txt" || fail "the same seed gave different reports on sim"
grep -q '"seed": 7,' "$tmp/seed.a.txt" || fail "seed not in the report"
cmp -s "$tmp/seed.a/trace.json" "$tmp/seed.b/trace.json" || fail "the same seed gave different traces on sim"

# A node that vanishes: errors, exit 1, no crash or hang, on both providers.
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
for provider in emu sim; do
  "$ferry" replay "$tmp/faults.yaml" --provider "$provider" --quiet --out "$tmp/f.$provider" > /dev/null 2>&1
  rc=$?
  [ "$rc" = 1 ] || fail "fault scenario on $provider exited $rc, expected 1"
  grep -q '"ok": false' "$tmp/f.$provider/report.json" || fail "fault report on $provider says ok"
  grep -q '"faults_applied": 1' "$tmp/f.$provider/report.json" || fail "fault not applied on $provider"
  python3 - "$tmp/f.$provider" <<'PY' || fail "fault not listed on $provider"
import json, os, sys
d = sys.argv[1]
r = json.load(open(os.path.join(d, "report.json")))
assert r["faults"] == [{"at_ns": 20000, "kind": "node_loss", "target": "node1", "detail": ""}], r["faults"]
html = open(os.path.join(d, "report.html"), encoding="utf-8").read()
assert "<td>node_loss</td><td>node1</td>" in html and ">node_loss node1<" in html
PY
done

# verbs: without an RDMA device (as here) a clear error and exit 1, at once.
if [ ! -d /sys/class/infiniband ] || [ -z "$(ls -A /sys/class/infiniband 2>/dev/null)" ]; then
  timeout 60 "$ferry" replay "$scenarios/default.yaml" --provider verbs --quiet --out "$tmp/v" > "$tmp/v.log" 2>&1
  rc=$?
  [ "$rc" = 1 ] || { cat "$tmp/v.log"; fail "verbs without a device exited $rc, expected 1"; }
  grep -q "verbs: .*RDMA device" "$tmp/v.log" || { cat "$tmp/v.log"; fail "verbs error unclear"; }
fi
echo "PASS ($count replays)"
