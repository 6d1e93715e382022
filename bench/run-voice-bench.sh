#!/bin/bash
# run-voice-bench.sh: voice in calls against RTP over UDP, in the project's network lab,
# tests/netlab/netlab (bench/README.md, "Voice").
#
#   sudo bench/run-voice-bench.sh              12 conditions, a minute each, about 30 minutes
#   sudo bench/run-voice-bench.sh --quick      4 conditions, 10 s each, about 3 minutes
#   sudo bench/run-voice-bench.sh --long       the clean direct path for 10 minutes
#
# Arguments go to bench-voice.py (see its --help). BUILD_DIR (default build-voice next to the
# sources) is configured and built if needed. The lab is machine-wide: the whole run holds
# /tmp/wzp-netlab.lock, and the lab is always taken down (netlab down --kill) at the end.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${BUILD_DIR:-$src/build-voice}

if [ "$(id -u)" != 0 ]; then
  echo "run-voice-bench.sh: needs root (network namespaces, nftables, NFQUEUE)" >&2
  exit 77
fi
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$src" -Dgtk=disabled -Dintrospection=false >/dev/null
fi
ninja -C "$build" wzp-relay/wzp-relay libwzp-glib/tools/wzp-cli >/dev/null

# /usr/bin/python3: Debian's numpy, scipy and GStreamer introspection (python3-gi)
exec flock /tmp/wzp-netlab.lock /usr/bin/python3 "$here/bench-voice.py" run \
  --build-dir "$build" "$@"
