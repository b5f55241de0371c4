#!/bin/bash
# The wire never runs faster than its line rate: every shipped scenario, scaled down, is
# replayed on emu (deterministic) and on sim, and in report.json's NIC timelines (the
# fabric's wire counters sampled at each interval edge of virtual time) no NIC sends or
# receives more in an interval than its line rate allows.
#
# Tolerance at interval edges: two packets per interval. sim counts a packet whole when
# it starts sending it and when it has received it, so one packet may straddle each edge;
# its packets carry frames_per_packet MTU frames of 4096 bytes (the replay's notes say
# when more than one). emu counts the wire as it flows (to the byte), and gets the same
# allowance of two 4096-byte packets.
#
# Every shipped scenario runs on both fabrics: none needs more than a few seconds at
# these scales, so none is left out.
set -u
ferry="$1"
scenarios=scenarios  # the runfiles root (bazel test) or the repository root
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
mkdir -p "$tmp"
fail() { echo "FAIL: $*"; exit 1; }

# Checks REPORT: exit 1 with every interval over the line rate listed.
check_line_rate() {
  /usr/bin/python3 - "$1" <<'PY'
import json, re, sys
r = json.load(open(sys.argv[1]))
interval = r["interval_ns"]
frames = 1
for note in r["notes"]:
    m = re.search(r"carries (\d+) MTU frames per simulated packet", note)
    if m:
        frames = int(m.group(1))
edge_bytes = 2 * frames * 4096
over = []
checked = 0
for nic in r["nics"]:
    if nic["gbps"] <= 0:
        over.append(nic["name"] + ": no line rate in the report")
        continue
    line = nic["gbps"] / 8 * interval  # bytes per interval at line rate
    for direction in ("bytes", "rx_bytes"):
        for i, b in enumerate(nic[direction]):
            checked += 1
            if b > line + edge_bytes:
                over.append("%s %s interval %d: %d B, line rate allows %.0f B (+%d at the edges): %.1f Gb/s on a %g Gb/s NIC"
                            % (nic["name"], "tx" if direction == "bytes" else "rx", i, b, line, edge_bytes,
                               b * 8 / interval, nic["gbps"]))
if checked == 0 or not any(sum(n["rx_bytes"]) for n in r["nics"]):
    over.append("no wire samples (tx and rx) to check")
if over:
    print(sys.argv[1] + ":\n  " + "\n  ".join(over[:20]))
    sys.exit(1)
PY
}

# The check can fail: a NIC at twice its line rate in one interval.
cat > "$tmp/over.json" <<'JSON'
{"interval_ns": 1000, "notes": [], "nics": [
  {"name": "node0/nic0", "gbps": 100, "bytes": [12500, 25000], "rx_bytes": [0, 0]},
  {"name": "node1/nic0", "gbps": 100, "bytes": [0, 0], "rx_bytes": [12500, 12500]}]}
JSON
check_line_rate "$tmp/over.json" > "$tmp/over.log" && fail "a NIC at 200 Gb/s on a 100 Gb/s link passed the check"
grep -q "node0/nic0 tx interval 1" "$tmp/over.log" || { cat "$tmp/over.log"; fail "the check named the wrong interval"; }

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
    [ "$rc" = 0 ] || { cat "$out.log"; fail "$name on $provider exited $rc"; }
    grep -q '"virtual_time": true' "$out/report.json" || fail "$name on $provider: not in virtual time (no wire to check)"
    check_line_rate "$out/report.json" || fail "$name on $provider: a NIC above its line rate"
    count=$((count + 1))
  done
done
[ "$count" -ge 20 ] || fail "only $count replays: scenarios not found"
echo "PASS ($count replays, no NIC above its line rate)"
