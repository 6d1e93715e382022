# netns.py: the namespace operations the lab needs. Every command names a lab namespace
# (`ip -n NS`, `ip netns exec NS`): nothing here runs in, or changes, the caller's own
# namespace, sysctls or ruleset. Interfaces are created with both ends inside lab
# namespaces.
#
# SPDX-License-Identifier: GPL-3.0-or-later

import os
import signal
import subprocess
import time


class LabError(Exception):
    pass


def run(*argv, input=None, check=True, timeout=30):
    r = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise LabError(f"{' '.join(argv)}: {r.stderr.strip() or 'exit ' + str(r.returncode)}")
    return r


def ip(ns, *args, check=True):
    return run("ip", "-n", ns, *args, check=check)


def inside(ns, *argv, input=None, check=True, timeout=30):
    return run("ip", "netns", "exec", ns, *argv, input=input, check=check, timeout=timeout)


def existing():
    r = run("ip", "netns", "list", check=False)
    return {line.split()[0] for line in r.stdout.splitlines() if line.strip()}


def add(ns):
    run("ip", "netns", "add", ns)
    ip(ns, "link", "set", "lo", "up")


def write_sysctls(ns, values):
    """Writes /proc/sys KEY=VALUE pairs inside NS (a namespace's own copy of them). Keys
    that do not exist there are left out."""
    script = ('for kv in "$@"; do f=/proc/sys/$(echo "${kv%%=*}" | tr . /); '
              '[ -e "$f" ] || continue; echo "${kv#*=}" > "$f" || exit 1; done')
    inside(ns, "sh", "-c", script, "sysctl", *[f"{k}={v}" for k, v in values.items()])


def veth(ns1, dev1, ns2, dev2):
    ip(ns1, "link", "add", dev1, "type", "veth", "peer", "name", dev2, "netns", ns2)


def bridge(ns, dev):
    ip(ns, "link", "add", dev, "type", "bridge", "stp_state", "0", "mcast_snooping", "0")
    write_sysctls(ns, {f"net.ipv6.conf.{dev}.accept_dad": 0})
    ip(ns, "link", "set", dev, "up")


def addresses(ns, dev, *addrs):
    for a in addrs:
        if ":" in a:
            ip(ns, "-6", "addr", "add", a, "dev", dev, "nodad")
        else:
            ip(ns, "addr", "add", a, "dev", dev)


def pids(ns):
    r = run("ip", "netns", "pids", ns, check=False)
    return [int(x) for x in r.stdout.split()]


def end_processes(ns, grace=3.0):
    """Ends the processes inside NS by PID: SIGTERM, then SIGKILL after GRACE seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids(ns):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while pids(ns) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not pids(ns):
            return


def delete(ns):
    run("ip", "netns", "del", ns, check=False)
