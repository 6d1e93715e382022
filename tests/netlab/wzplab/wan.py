# wan.py: added one-way delay and random or bursty loss on the WAN router, for benchmarks
# and voice tests. This kernel has no sch_netem and nftables cannot queue, so the wan
# namespace queues every packet it passes on (iptables-legacy's NFQUEUE target in mangle
# POSTROUTING, with its br_netfilter knobs on so that frames bridged between two NAT
# routers or between the relays are queued too) to shaper.py, which holds and drops them.
# Each packet crosses the WAN router once, so every path between sites, or between a site
# and a relay, gets 2 x delay more round-trip time and loses packets each way; LANs are
# untouched, and the NAT routers make their mappings in real time, as with a slow link
# outside them.
#
# The settings and the shaper's PID are the alias of the wan router's br-isp.
#
# SPDX-License-Identifier: GPL-3.0-or-later

import os
import shutil
import signal
import subprocess
import sys
import time

from . import netns, plan
from .netns import LabError

HERE = os.path.dirname(os.path.abspath(__file__))
QUEUE = 7
STATE_DEV = "br-isp"
STATE_TAG = "wzplab-wan"
TOOLS = ("iptables-legacy", "ip6tables-legacy")
BRIDGE_KNOBS = ("net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables")


# Another lab with the same plan (the one this lab replaced, for a comparison run) can
# borrow the shaper: `netlab wan --namespace ITS-WAN-ROUTER ...`.
_namespace = plan.namespace("wan")


def use_namespace(ns):
    global _namespace
    _namespace = ns


def _ns():
    return _namespace


def current():
    """{"delay": ms, "loss": percent, "burst": packets, "pid": shaper} or None."""
    if _ns() not in netns.existing():
        return None
    r = netns.ip(_ns(), "-o", "link", "show", "dev", STATE_DEV, check=False)
    if " alias " not in r.stdout:
        return None
    alias = r.stdout.split(" alias ", 1)[1].split()
    if not alias or alias[0] != STATE_TAG:
        return None
    kv = dict(item.split("=", 1) for item in alias[1:] if "=" in item)
    try:
        return {"delay": float(kv["delay"]), "loss": float(kv["loss"]),
                "burst": float(kv["burst"]), "pid": int(kv["pid"])}
    except (KeyError, ValueError):
        return None


def describe():
    c = current()
    if not c:
        return "no added delay or loss"
    burst = f" in bursts of {c['burst']:g}" if c["burst"] > 1 else " (random)"
    return (f"{c['delay']:g} ms one-way delay, {c['loss']:g}% loss"
            f"{burst if c['loss'] else ''}, shaper pid {c['pid']}")


def unusable_reason():
    for tool in TOOLS:
        if shutil.which(tool) is None:
            return f"'{tool}' is missing (Debian package iptables)"
    if not os.path.exists("/proc/sys/net/bridge"):
        return "br_netfilter is not loaded (frames bridged between sites would not be delayed)"
    return None


def _is_shaper(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"shaper.py" in f.read()
    except OSError:
        return False


def stop_shaper():
    """Takes the WAN back to no added delay or loss, and ends the shaper (by its PID)."""
    c = current()
    if _ns() in netns.existing():
        for tool in TOOLS:
            if shutil.which(tool):
                netns.inside(_ns(), tool, "-t", "mangle", "-F", "POSTROUTING", check=False)
        netns.write_sysctls(_ns(), {k: 0 for k in BRIDGE_KNOBS})
        netns.ip(_ns(), "link", "set", "dev", STATE_DEV, "alias", "", check=False)
    if c and _is_shaper(c["pid"]):
        os.kill(c["pid"], signal.SIGTERM)
        deadline = time.monotonic() + 3
        while _is_shaper(c["pid"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _is_shaper(c["pid"]):
            os.kill(c["pid"], signal.SIGKILL)


def set(delay_ms=0.0, loss=0.0, burst=1.0, seed=None):
    """Sets the WAN's added one-way delay (ms) and loss (percent, mean burst length)."""
    if delay_ms < 0 or not 0 <= loss < 100 or burst < 1:
        raise LabError("--delay-ms >= 0, 0 <= --loss < 100, --burst >= 1")
    if _ns() not in netns.existing():
        raise LabError("the lab is not up")
    stop_shaper()
    if delay_ms == 0 and loss == 0:
        return
    reason = unusable_reason()
    if reason:
        raise LabError(f"cannot add WAN delay or loss: {reason}")
    argv = ["ip", "netns", "exec", _ns(), sys.executable, os.path.join(HERE, "shaper.py"),
            "--queue", str(QUEUE), "--delay-ms", f"{delay_ms:g}", "--loss", f"{loss:g}",
            "--burst", f"{burst:g}"]
    if seed is not None:
        argv += ["--seed", str(seed)]
    # its own session: it outlives this command, until `netlab wan --off` or `down`
    shaper = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    if shaper.stdout.readline().strip() != "shaping":
        shaper.kill()
        raise LabError("the shaper did not start")
    shaper.stdout.close()
    netns.ip(_ns(), "link", "set", "dev", STATE_DEV, "alias",
             f"{STATE_TAG} delay={delay_ms:g} loss={loss:g} burst={burst:g} pid={shaper.pid}")
    for tool in TOOLS:
        netns.inside(_ns(), tool, "-t", "mangle", "-A", "POSTROUTING", "-j", "NFQUEUE",
                     "--queue-num", str(QUEUE), "--queue-bypass")
    netns.write_sysctls(_ns(), {k: 1 for k in BRIDGE_KNOBS})
