# Sourced by the scripts that start Debian's python3 on the extension ($1: its path).
# Built with --config=asan, the extension needs the sanitizer runtimes loaded before
# anything else (the interpreter is not instrumented): preload the ones it was linked
# against. The interpreter's own allocations live until exit, so leak checking is off
# here (the C++ tests keep it).
sanitizers="$(ldd "$1" | awk '/lib(asan|ubsan)\.so/ {print $3}' | paste -sd: -)"
if [ -n "$sanitizers" ]; then
  export LD_PRELOAD="$sanitizers${LD_PRELOAD:+:$LD_PRELOAD}"
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
fi
