#!/bin/bash
# run-soak-bench.sh: nothing grows (bench/README.md, "Soak"): 30 minutes of calls,
# hang-ups, registrations and re-registrations against three wzp-relay daemons on
# loopback, descriptors and RSS watched. Loopback only: no root, no netlab.
#
#   bench/run-soak-bench.sh                     the 30-minute run, build-soak
#   bench/run-soak-bench.sh --minutes 3         a short run (the RSS window shrinks)
#   SANITIZE=address bench/run-soak-bench.sh    under ASan + LeakSanitizer, build-soak-asan
#
# Arguments go to bench-soak (see its --help). BUILD_DIR (default build-soak, or
# build-soak-asan with SANITIZE=address) is configured (debugoptimized, no GTK, no voice)
# and built if needed. NICE (default 5) is the niceness of the run: a soak measures
# growth, not speed, so it may share the machine.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
sanitize=${SANITIZE:-}
build=${BUILD_DIR:-$src/build-soak${sanitize:+-$sanitize}}

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$src" --buildtype=debugoptimized -Dintrospection=false -Dgtk=disabled \
    -Dvoice=disabled ${sanitize:+-Db_sanitize=$sanitize} >/dev/null
fi
nice -n 10 ninja -C "$build" wzp-relay/wzp-relay bench/bench-soak >/dev/null

if [ -n "$sanitize" ]; then
  # The relays inherit these: LeakSanitizer runs at each relay's exit (SIGTERM) and its
  # report lands in the relay's log, which the benchmark reads. The suppressions are the
  # tests' (GLib's and GnuTLS's process-wide caches).
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
  export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$src/tests/lsan.supp:print_suppressions=0}
fi

echo "# $(date -u +%FT%TZ), $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo '?')," \
     "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), build $build" \
     "${sanitize:+(-Db_sanitize=$sanitize)}, nice ${NICE:-5}"
exec nice -n "${NICE:-5}" "$build/bench/bench-soak" "$@"
