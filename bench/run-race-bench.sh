#!/bin/bash
# run-race-bench.sh: the path race against libnice ICE in the project's network lab,
# tests/netlab/netlab (bench/README.md, "Race").
#
#   sudo bench/run-race-bench.sh                     all cases, with and without WAN delay
#   sudo bench/run-race-bench.sh --calls 20 --nice-trials 20 --delays 0   a short run
#   sudo bench/run-race-bench.sh --lab new --lab old:PATH   the same in two labs, compared
#
# Arguments go to bench-race.py (see its --help). BUILD_DIR (default build-race next to the
# sources) is configured and built if needed; coturn is installed with apt-get if missing.
# The lab is machine-wide: the whole run holds /tmp/wzp-netlab.lock (the lab's own commands
# see that their caller holds it), and the lab is always taken down (netlab down --kill) at
# the end.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${BUILD_DIR:-$src/build-race}

if [ "$(id -u)" != 0 ]; then
  echo "run-race-bench.sh: needs root (network namespaces, nftables, NFQUEUE)" >&2
  exit 77
fi
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$src" >/dev/null
fi
ninja -C "$build" wzp-relay/wzp-relay bench/bench-race-wzp bench/bench-race-nice >/dev/null
if ! command -v turnserver >/dev/null || ! command -v iptables-legacy >/dev/null; then
  # coturn: the STUN server for libnice; iptables: NFQUEUE for the added WAN delay
  echo "# installing coturn and iptables" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q coturn iptables >/dev/null
fi

exec flock /tmp/wzp-netlab.lock python3 "$here/bench-race.py" run --build-dir "$build" "$@"
