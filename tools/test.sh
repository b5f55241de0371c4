#!/usr/bin/env bash
# Runs ferry's whole test suite: installs any missing packages, then these runs, in this
# order, each even if an earlier one failed:
#
#   asan     bazel test --keep_going --config=asan -- //... -//tools/ferry/replay:nic_line_rate_test
#            every test, under AddressSanitizer and UndefinedBehaviorSanitizer
#   tsan     bazel test --keep_going --config=tsan --build_tests_only \
#                       --test_tag_filters=threads //...
#   opt      bazel test --keep_going --config=opt //tools/ferry/replay:nic_line_rate_test \
#                       //tools/ferry/swarm:swarm_sweep_test
#            the line-rate invariant over every shipped scenario (a property of the
#            timing model) and 10,000 swarm seeds, in the optimised build the Soft-RoCE
#            run shares
#   softroce bash hw_tests/softroce/run.sh  (verbs over rxe under QEMU; one test)
#   fuzz     bash tools/fuzz.sh 160  (libFuzzer on the scenario parser and every wire
#            format a peer sends, 20 s each; one test)
#
# Every test runs once, under the sanitizers: a separate unsanitized run would find
# nothing they miss and cost a third of the command's time (docs/architecture.md).
#
# The tsan run only covers tests tagged "threads" (tags = ["threads"] in the
# BUILD file). If no test carries that tag, Bazel exits 4 ("no test targets");
# that is reported as a note, not a failure.
#
# At the end it prints a per-run breakdown with each run's minutes and then, alone on
# its line,
#   tests: N passed, M failed, K skipped
# counting one result per test target per run (FLAKY counts as passed; FAILED,
# TIMEOUT, NO STATUS, FAILED TO BUILD, INCOMPLETE count as failed; a `gpu` test whose
# cases skipped themselves for want of a GPU counts as skipped, with its reason).
# Exit status: 0 only if every run succeeded.
#
# Environment:
#   FERRY_TEST_QUICK=1   instead, one unsanitized run of every test (`bazel test //...`):
#                        the quick check while developing.
#
# Usage: bash tools/test.sh     (works from any directory; arguments are ignored)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash tools/install-deps.sh

logdir="$(mktemp -d "${TMPDIR:-/tmp}/ferry-test.XXXXXX")"
trap 'rm -rf "$logdir"' EXIT

names=()
cmds=()
rcs=()
secs=()

# run_bazel NAME ARGS...: runs `bazel ARGS...`, shows its output and keeps a copy.
run_bazel() {
  local name="$1"
  shift
  echo
  echo "==> [$name] bazel $*"
  local rc=0 start=$SECONDS
  set +e
  bazel "$@" </dev/null 2>&1 | tee "$logdir/$name.log"
  rc="${PIPESTATUS[0]}"
  set -e
  names+=("$name")
  cmds+=("bazel $*")
  rcs+=("$rc")
  secs+=("$((SECONDS - start))")
}

# record_skips NAME [CONFIG...]: the `gpu` test targets of the last Bazel run whose
# test.xml holds skipped cases (no GPU on this machine), one "label|reason" a line, into
# $logdir/NAME.skipped: the summary counts them as skipped, not passed. Other targets
# may skip single cases for reasons of their own (a check a provider cannot run) and
# still count as passed.
record_skips() {
  local name="$1"
  shift
  local testlogs
  testlogs="$(bazel info "$@" bazel-testlogs 2>/dev/null </dev/null)" || return 0
  [ -d "$testlogs" ] || return 0
  bazel query 'attr(tags, "\bgpu\b", tests(//...))' 2>/dev/null </dev/null | while read -r label; do
    local rel="${label#//}"
    local xml="$testlogs/${rel/://}/test.xml"
    # The target's latest result in this configuration, run now or taken from the cache.
    [ -f "$xml" ] || continue
    # gtest marks a skipped case result="skipped"; pytest writes <skipped type="pytest.skip">.
    if grep -q -e 'result="skipped"' -e '<skipped type="pytest.skip"' "$xml"; then
      local reason
      reason="$(grep -m1 -o '<skipped[^>]*message="[^"]*"' "$xml" | sed -n '1{s/.*message="//; s/.*&#x0A;//; s/"$//; p}' || true)"
      echo "$label|$reason"
    fi
  done >"$logdir/$name.skipped" || true
}

# run_step NAME CMD...: a step that is not a Bazel test run; it counts as one test.
run_step() {
  local name="$1"
  shift
  echo
  echo "==> [$name] $*"
  local rc=0 start=$SECONDS
  set +e
  "$@" </dev/null 2>&1 | tee "$logdir/$name.log"
  rc="${PIPESTATUS[0]}"
  set -e
  names+=("$name")
  cmds+=("$*")
  rcs+=("$rc")
  secs+=("$((SECONDS - start))")
}

if [ "${FERRY_TEST_QUICK:-0}" = "1" ]; then
  run_bazel default test --keep_going //...
  record_skips default
else
  # The line-rate invariant is left to the opt run below: its replays are the ones
  # replay_test runs here under the sanitizers.
  run_bazel asan test --keep_going --config=asan \
    -- //... -//tools/ferry/replay:nic_line_rate_test
  record_skips asan --config=asan
  run_bazel tsan test --keep_going --config=tsan --build_tests_only \
    --test_tag_filters=threads //...
  # Checks that need speed more than sanitizers: the timing model's line-rate invariant
  # and the 10,000-seed swarm sweep (swarm_test runs 1,000 seeds under asan above).
  run_bazel opt test --keep_going --config=opt //tools/ferry/replay:nic_line_rate_test \
    //tools/ferry/swarm:swarm_sweep_test
  # The verbs provider on a real (software) RDMA device: Debian's kernel under QEMU.
  run_step softroce bash hw_tests/softroce/run.sh
  # The scenario parser and the wire formats under libFuzzer: 160 s split among the 8
  # fuzzers, 20 s each.
  run_step fuzz bash tools/fuzz.sh 160
fi

# Summarise. Arguments: one "name|rc|seconds|logfile|command" per run.
summary_args=()
for i in "${!names[@]}"; do
  summary_args+=("${names[$i]}|${rcs[$i]}|${secs[$i]}|$logdir/${names[$i]}.log|${cmds[$i]}")
done

python3 - "${summary_args[@]}" <<'PY'
import re
import sys

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# A per-target result line of Bazel's test summary, e.g.
#   //emu:emu_test                                  PASSED in 0.3s
#   //emu:emu_test                         (cached) PASSED in 0.3s
#   //emu:foo                          (1/2 cached) FLAKY, failed in 1 out of 2 in 0.5s
#   //emu:foo                               FLAKY, failed in 1 out of 2 in 0.5s
#   //emu:bar                                       FAILED TO BUILD
RESULT = re.compile(
    r"^(?P<label>(?:@[\w.~+-]*)?//\S*)\s+(?:\((?:\d+/\d+ )?cached\)\s+)?"
    r"(?P<status>PASSED|FLAKY|FAILED TO BUILD|FAILED|TIMEOUT|NO STATUS|"
    r"INCOMPLETE|REMOTE FAILURE|SKIPPED)\b"
)
PASS = {"PASSED", "FLAKY"}
STEPS = {"softroce": "hw_tests/softroce/run.sh", "fuzz": "tools/fuzz.sh"}
NEUTRAL = {"SKIPPED"}


def skipped_by_test(path):
    """Targets whose cases skipped themselves (label -> reason), from record_skips."""
    out = {}
    try:
        with open(path) as f:
            for line in f:
                label, _, reason = line.rstrip("\n").partition("|")
                if label:
                    out[label] = reason
    except OSError:
        pass
    return out


def parse(path):
    results = {}
    errors = []
    in_test_output = False
    with open(path, errors="replace") as f:
        for raw in f:
            line = ANSI.sub("", raw.rstrip("\n")).split("\r")[-1]
            # Skip the failing tests' own logs that --test_output=errors prints.
            if line.startswith("==================== Test output for "):
                in_test_output = True
                continue
            if in_test_output:
                if re.fullmatch(r"=+", line.strip()):
                    in_test_output = False
                continue
            m = RESULT.match(line)
            if m:
                results[m.group("label")] = m.group("status")
            elif line.startswith("ERROR: ") and line not in errors:
                errors.append(line)
    return results, errors


total_pass = total_fail = 0
any_failed = False
rows = []
for arg in sys.argv[1:]:
    name, rc, seconds, path, cmd = arg.split("|", 4)
    rc = int(rc)
    results, errors = parse(path)
    if name in STEPS:  # not Bazel: the whole step is one test
        results = {STEPS[name]: "PASSED" if rc == 0 else "FAILED"}
    self_skipped = skipped_by_test(path[: -len(".log")] + ".skipped")
    for label in self_skipped:
        if results.get(label) in PASS:
            results[label] = "SKIPPED"
    passed = sorted(l for l, s in results.items() if s in PASS)
    flaky = sorted(l for l, s in results.items() if s == "FLAKY")
    skipped = sorted(l for l, s in results.items() if s in NEUTRAL)
    failed = sorted((l, s) for l, s in results.items() if s not in PASS | NEUTRAL)
    total_pass += len(passed)
    total_fail += len(failed)

    notes = []
    if rc == 0:
        verdict = "ok"
    elif rc == 4 and name == "tsan" and not results:
        verdict = "ok"
        notes.append('no test is tagged "threads": nothing to run under tsan (not a failure)')
    else:
        verdict = "FAILED"
        any_failed = True
        if not failed:
            if rc == 1:
                notes.append("build or analysis error: some targets have no test result")
            elif rc == 4:
                notes.append("no test targets matched")
            else:
                notes.append("bazel exited %d" % rc)
        for err in errors[:3]:
            notes.append(err if len(err) <= 160 else err[:157] + "...")
        if len(errors) > 3:
            notes.append("... %d more ERROR lines above" % (len(errors) - 3))
    line = "  %-8s %-6s exit %d, %4.1f min: %d passed, %d failed" % (
        name, verdict, rc, int(seconds) / 60, len(passed), len(failed))
    if flaky:
        line += " (%d flaky)" % len(flaky)
    if skipped:
        line += ", %d skipped" % len(skipped)
    skip_notes = [(l, self_skipped.get(l, "")) for l in skipped]
    rows.append((line, cmd, failed, flaky, notes, skip_notes))

print()
print("==> summary")
for line, cmd, failed, flaky, notes, skip_notes in rows:
    print(line)
    print("          " + cmd)
    for label, status in failed:
        print("          %-9s %s" % (status, label))
    for label in flaky:
        print("          %-9s %s" % ("FLAKY", label))
    for label, reason in skip_notes:
        print("          %-9s %s: %s" % ("SKIPPED", label, reason))
    for note in notes:
        print("          note: " + note)
total_skipped = sum(len(r[5]) for r in rows)
print("  all runs: %.1f min" % (sum(int(a.split("|")[2]) for a in sys.argv[1:]) / 60))
print("tests: %d passed, %d failed, %d skipped" % (total_pass, total_fail, total_skipped))
sys.exit(1 if any_failed else 0)
PY
