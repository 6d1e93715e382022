#!/bin/bash
# run-relay-bench.sh: the relay benchmarks (bench/README.md, "Relay").
#
#   bench/run-relay-bench.sh            full run (a few minutes)
#   bench/run-relay-bench.sh --quick    short ramp, for a smoke test
#
# 1. bench-relay-pipes: relay pipe forwarding under voice load against nginx stream (plain
#    and TLS to TLS), with the direct baseline and a minimal forwarder as the generator check.
# 2. bench-relay-rss: relay RSS per idle registered client at 10,000 clients.
#
# Extra arguments for each program: PIPES_ARGS="..." RSS_ARGS="..." in the environment.
# BUILD_DIR (default build-bench next to the sources) is configured and built if needed.
# Run it as root on an otherwise quiet machine: root raises the open file limits and gives
# the benchmark precedence over other programs on its CPUs (nice -20 on its own session).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${BUILD_DIR:-$src/build-bench}
pipes_args=${PIPES_ARGS:-}
rss_args=${RSS_ARGS:-}

# As root, the proxy under test runs SCHED_FIFO so that other programs on its CPU do not
# delay it (the generator cannot: it polls with microsecond timeouts).
if [ "$(id -u)" = 0 ]; then
  pipes_args="--realtime $pipes_args"
fi

if [ "${1:-}" = "--quick" ]; then
  pipes_args="--steps 50,200,800,1400 --seconds 2 $pipes_args"
  rss_args="--clients 2000 $rss_args"
fi

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$src" >/dev/null
fi
ninja -C "$build" bench/bench-relay-pipes bench/bench-relay-host bench/bench-relay-rss >/dev/null

if [ ! -x /usr/sbin/nginx ] || [ ! -e /usr/lib/nginx/modules/ngx_stream_module.so ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    # the reference proxies, from the one package list
    . "$src/.ci/deps.sh"
    wzp_install_packages $WZP_BENCH_PACKAGES
  else
    echo "# nginx with its stream module is missing: measuring without it" >&2
    pipes_args="--modes direct,fwd,relay $pipes_args"
  fi
fi

if [ "$(nproc)" -lt 2 ]; then
  echo "# this benchmark wants 2 CPUs (generator on one, proxy on the other)" >&2
fi
# Busy share of all CPUs over 3 s, in percent.
cpu_busy() {
  local a b
  read -r _ a1 a2 a3 a4 a5 a6 a7 a8 _ < /proc/stat
  sleep 3
  read -r _ b1 b2 b3 b4 b5 b6 b7 b8 _ < /proc/stat
  a=$((a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8))
  b=$((b1 + b2 + b3 + b4 + b5 + b6 + b7 + b8))
  echo $(( 100 - 100 * ((b4 + b5) - (a4 + a5)) / (b - a) ))
}
# Latency under 2 ms at p99 is only measurable on a quiet machine: wait for one (at most
# QUIET_WAIT seconds, default 600), then go ahead and let the tables show the noise.
waited=0
while busy=$(cpu_busy) && [ "$busy" -gt 10 ] && [ "$waited" -lt "${QUIET_WAIT:-600}" ]; do
  [ "$waited" = 0 ] && echo "# waiting for a quiet machine (other programs use ${busy}% of the CPUs)" >&2
  waited=$((waited + 3))
done
read -r load1 _ < /proc/loadavg
echo "# $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs, load average $load1"

echo
echo "## 1. Relay pipe forwarding (bench-relay-pipes)"
# setsid: the generator sets its own session's scheduling priority (autogroup).
# shellcheck disable=SC2086
setsid -w "$build/bench/bench-relay-pipes" $pipes_args

echo
echo "## 2. Relay RSS per idle registered client (bench-relay-rss)"
# shellcheck disable=SC2086
"$build/bench/bench-relay-rss" $rss_args
