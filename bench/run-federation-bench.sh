#!/bin/bash
# run-federation-bench.sh: what federation adds to a call, against a local call measured in
# the same run (bench/README.md, "Federation"). Loopback only: no root, no netlab.
#
#   bench/run-federation-bench.sh                      60 calls of each kind per figure
#   bench/run-federation-bench.sh --calls 200 --messages 50
#
# Arguments go to bench-federation (see its --help). BUILD_DIR (default build-federation
# next to the sources) is configured and built if needed. The run is its own session with
# nice -10 when it may (root), so builds and tests of others disturb it less.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${BUILD_DIR:-$src/build-federation}

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$src" -Dintrospection=false -Dgtk=disabled >/dev/null
fi
ninja -C "$build" wzp-relay/wzp-relay bench/bench-federation >/dev/null

# Share of the CPUs other programs keep busy, in percent, over 3 s (/proc/stat: idle and
# iowait are the 4th and 5th fields).
others_busy() {
  local before after
  before=$(awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat)
  sleep 3
  after=$(awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat)
  echo "$before $after" | awk '{t = $3 - $1; i = $4 - $2; print (t > 0) ? int(100 - 100 * i / t) : 0}'
}
# Sub-millisecond differences need a quiet machine: wait for one (at most QUIET_WAIT
# seconds, default 600), then measure anyway; the header says how busy it was.
waited=0
while busy=$(others_busy) && [ "$busy" -gt 10 ] && [ "$waited" -lt "${QUIET_WAIT:-600}" ]; do
  [ "$waited" = 0 ] && echo "# waiting for a quiet machine (${busy}% of the CPUs busy)" >&2
  waited=$((waited + 3))
done
echo "# $(date -u +%FT%TZ), $(nproc) CPUs, ${busy}% busy before the run, load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$(id -u)" = 0 ]; then
  exec nice -n -10 setsid "$build/bench/bench-federation" "$@"
fi
exec "$build/bench/bench-federation" "$@"
