#!/bin/bash
# report.html in headless Chromium. For each synthetic report: the page loads, its script
# runs to the end and finds every chart laid out (it then sets data-rendered="ok N
# charts"), nothing reaches the console (a script error, or an SVG attribute Chromium
# could not parse), and no text from the report ran as script. Then the sample page,
# screenshot with and without its script, gives the same picture, with far more in it
# than a blank page's. Prints how long each render took; time does not decide the result.
#
# Usage: html_report_chromium_test.sh WRITE_SAMPLE_REPORT
# CHROMIUM overrides the browser (default /usr/bin/chromium).
set -u
writer="$1"
chromium="${CHROMIUM:-/usr/bin/chromium}"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*"; exit 1; }

if [ ! -x "$chromium" ]; then
  fail "no Chromium at $chromium; this test renders report.html in it. Install Debian's" \
    "package: apt-get install -y --no-install-recommends chromium (tools/install-deps.sh)," \
    "or point CHROMIUM at a Chromium binary (bazel test --test_env=CHROMIUM=...)."
fi

# Chromium writes its profile, caches and crash dumps under HOME and TMPDIR. Its
# singleton socket goes under TMPDIR, and a socket's path must fit in 108 bytes: Bazel's
# TEST_TMPDIR is often longer, so then TMPDIR is a short directory under /tmp, removed at
# the end.
export HOME="$tmp/home" TMPDIR="$tmp"
if [ "${#tmp}" -gt 50 ]; then
  TMPDIR=$(mktemp -d /tmp/ferry-html.XXXXXX) || fail "cannot create a temporary directory under /tmp"
  trap 'rm -rf "$TMPDIR"' EXIT
fi
export XDG_CONFIG_HOME="$HOME/.config" XDG_CACHE_HOME="$HOME/.cache" XDG_RUNTIME_DIR="$HOME/run"
mkdir -p "$HOME" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
# The sanitizers' settings are for the C++ writer, not for the browser.
unset ASAN_OPTIONS UBSAN_OPTIONS TSAN_OPTIONS

# chromium_run NAME ARGS...: one headless run with a fresh profile, at most 90 s;
# output in $tmp/NAME.out and $tmp/NAME.err; sets elapsed_ms.
chromium_run() {
  local name="$1"
  shift
  local profile start rc
  profile=$(mktemp -d "$tmp/profile.XXXXXX")
  start=$(date +%s%N)
  timeout -k 10 90 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --disable-dev-shm-usage \
    --disable-extensions --user-data-dir="$profile" --enable-logging=stderr --v=0 "$@" \
    >"$tmp/$name.out" 2>"$tmp/$name.err"
  rc=$?
  elapsed_ms=$((($(date +%s%N) - start) / 1000000))
  case "$rc" in
    0) ;;
    124 | 137) echo "--- stderr:"; tail -20 "$tmp/$name.err"; fail "$name: Chromium did not finish in 90 s" ;;
    *) echo "--- stderr:"; tail -20 "$tmp/$name.err"; fail "$name: Chromium exited $rc" ;;
  esac
}

# Console lines are what the page logged or what Blink reported about it.
console_errors() { grep -E ':CONSOLE|Uncaught' "$tmp/$1.err"; }

for name in sample hostile empty degenerate single huge large; do
  page="$tmp/$name.html"
  "$writer" "$name" "$page" || fail "write_sample_report $name exited $?"
  chromium_run "$name" --dump-dom "file://$page"
  dom="$tmp/$name.out"
  [ -s "$dom" ] || fail "$name: Chromium dumped no DOM"
  if console_errors "$name"; then fail "$name: the page logged to the console (above)"; fi
  rendered=$(grep -o 'data-rendered="[^"]*"' "$dom")
  declared=$(grep -o 'data-charts="[0-9]*"' "$dom" | grep -o '[0-9]*')
  [ "$rendered" = "data-rendered=\"ok $declared charts\"" ] ||
    fail "$name: the page's script did not finish its checks: '${rendered:-no data-rendered mark}'," \
      "expected 'ok $declared charts'"
  grep -q 'data-injected' "$dom" && fail "$name: text from the report ran as script"
  printf 'render %-10s %6d ms  %9d bytes  %s\n' "$name" "$elapsed_ms" "$(stat -c %s "$page")" "$rendered"
done

# Without its script the page looks the same: screenshots of the sample page with and
# without the <script> element are the same PNG (headless Chromium needs scripts on to
# take one), a PNG of the window's size with far more in it than a blank page's.
sed '/^<script>/,/^<\/script>/d' "$tmp/sample.html" >"$tmp/noscript.html"
grep -q '<script' "$tmp/noscript.html" && fail "could not take the script out of the sample page"
printf '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>blank</title></head><body></body></html>\n' \
  >"$tmp/blank.html"
for name in sample noscript blank; do
  # the last two flags make Chromium finish painting before it takes the picture
  chromium_run "$name-png" --window-size=1280,2400 --hide-scrollbars --screenshot="$tmp/$name.png" \
    --run-all-compositor-stages-before-draw --virtual-time-budget=5000 "file://$tmp/$name.html"
  if console_errors "$name-png"; then fail "$name: the page logged to the console (above)"; fi
  [ -s "$tmp/$name.png" ] || fail "$name: no screenshot"
  [ "$(od -An -tx1 -N8 "$tmp/$name.png" | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$name.png is not a PNG"
  # IHDR: width and height, big-endian, at bytes 16..23
  size=$(od -An -tu1 -j16 -N8 "$tmp/$name.png" |
    awk '{ printf "%dx%d", $1*16777216 + $2*65536 + $3*256 + $4, $5*16777216 + $6*65536 + $7*256 + $8 }')
  [ "$size" = 1280x2400 ] || fail "$name.png is $size, expected 1280x2400"
  printf 'screenshot %-8s %6d ms  %9d bytes\n' "$name" "$elapsed_ms" "$(stat -c %s "$tmp/$name.png")"
done
cmp -s "$tmp/sample.png" "$tmp/noscript.png" ||
  fail "the sample page looks different without its script ($tmp/sample.png, $tmp/noscript.png)"
sample_png=$(stat -c %s "$tmp/sample.png")
blank_png=$(stat -c %s "$tmp/blank.png")
[ "$sample_png" -gt $((blank_png * 10)) ] ||
  fail "the sample's screenshot ($sample_png bytes) is hardly larger than a blank page's ($blank_png bytes)"
echo "PASS"
