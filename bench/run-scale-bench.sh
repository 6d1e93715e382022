#!/bin/bash
# run-scale-bench.sh: the relay at scale (bench/README.md, "Relay at scale").
#
#   bench/run-scale-bench.sh                 full run: 1,000 to ~19,500 idle clients, nginx,
#                                            a storm of 10,000, the attacks (up to 35 minutes:
#                                            a relay that slows down with N takes longest)
#   bench/run-scale-bench.sh --quick         smoke run: --steps 200,1000 --storm 1000
#   bench/run-scale-bench.sh --steps 1000,5000 --storm 0 --no-nginx      any option of
#                                            bench-relay-scale (--help lists them)
#
# BUILD_DIR (default build-bench next to the sources) is configured and built if needed.
# As root it installs nginx with its stream module when missing, and gives the benchmark
# precedence over other programs (its own session at autogroup nice -20). It waits up to
# QUIET_WAIT seconds (default 600) for the load average to fall under MAX_LOAD (default
# 1.5): the latency figures are only worth something on a quiet machine.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${BUILD_DIR:-$src/build-bench}
max_load=${MAX_LOAD:-1.5}

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$src" >/dev/null
fi
ninja -C "$build" bench/bench-relay-scale bench/bench-scale-gen bench/bench-relay-host >/dev/null

if [ ! -x /usr/sbin/nginx ] || [ ! -e /usr/lib/nginx/modules/ngx_stream_module.so ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    # the reference proxy, from the one package list
    . "$src/.ci/deps.sh"
    wzp_install_packages $WZP_BENCH_PACKAGES
  else
    echo "# nginx with its stream module is missing: measuring without it" >&2
  fi
fi

if [ "$(nproc)" -lt 2 ]; then
  echo "# this benchmark wants 2 CPUs (generators on one, the relay on the other)" >&2
fi

waited=0
while read -r load1 _ < /proc/loadavg &&
      awk -v l="$load1" -v m="$max_load" 'BEGIN { exit !(l > m) }' &&
      [ "$waited" -lt "${QUIET_WAIT:-600}" ]; do
  [ "$waited" = 0 ] && echo "# waiting for a quiet machine (load average $load1 > $max_load)" >&2
  sleep 10
  waited=$((waited + 10))
done
read -r load1 _ < /proc/loadavg
echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs, load average $load1"

if [ "$(id -u)" = 0 ]; then
  # A session of its own, whose autogroup runs before other sessions' programs.
  exec setsid -w bash -c 'echo -20 > /proc/self/autogroup 2>/dev/null || true; exec "$@"' \
    bench "$build/bench/bench-relay-scale" "$@"
fi
exec "$build/bench/bench-relay-scale" "$@"
