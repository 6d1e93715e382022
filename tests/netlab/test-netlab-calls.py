#!/usr/bin/python3
# test-netlab-calls.py: end-to-end calls in ../shared/netlab's namespaces with real NATs
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Each case starts relays in relayA/relayB and wzp-cli clients on the lab's hosts, and
# checks the path the call took, from the clients' JSON events. The lab is machine-wide
# state: this test takes a lock, brings the lab up itself and always takes it down.
# Output is TAP. Without root or the lab's tools it skips, unless WZP_REQUIRE_NETLAB=1
# (CI), where a skip is a failure (DESIGN.md section 11, item 23).

import faulthandler
import fcntl
import json
import select
import os
import shutil
import subprocess
import sys
import tempfile
import time

def find_netlab():
    # The lab ships beside the project (../shared/netlab); a checkout elsewhere (a CI
    # clone) finds it through WZP_NETLAB or the workplace's shared folder.
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.environ.get("WZP_NETLAB"),
                  os.path.join(here, "..", "..", "..", "shared", "netlab", "netlab"),
                  "/work/shared/netlab/netlab"]
    for path in candidates:
        if path and os.path.exists(path):
            return path
    return candidates[1]


NETLAB = find_netlab()
RELAY = os.environ.get("WZP_RELAY_BIN", "build/wzp-relay/wzp-relay")
CLI = os.environ.get("WZP_CLI_BIN", "build/libwzp-glib/tools/wzp-cli")
REQUIRE = os.environ.get("WZP_REQUIRE_NETLAB") == "1"
LOCK = "/tmp/wzp-netlab.lock"

results = []


def tap(ok, name, detail=""):
    results.append(ok)
    print(("ok" if ok else "not ok") + f" {len(results)} {name}" + (f" # {detail}" if detail else ""),
          flush=True)


def skip_reason():
    if os.geteuid() != 0:
        return "netlab needs root (network namespaces and nftables)"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"netlab needs {tool}"
    if not os.path.exists(NETLAB):
        return f"netlab not found at {NETLAB}"
    for binary in (RELAY, CLI):
        if not os.access(binary, os.X_OK):
            return f"{binary} is not built"
    r = subprocess.run([NETLAB, "check"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return (r.stdout.strip() or r.stderr.strip() or "netlab check failed")
    return None


class Lab:
    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []

    def run(self, *args, timeout=60):
        return subprocess.run([NETLAB, *args], capture_output=True, text=True, timeout=timeout)

    def up(self, nat):
        r = self.run("up", "--nat", nat)
        if r.returncode != 0:
            raise RuntimeError(f"netlab up --nat {nat} failed: {r.stderr.strip()}")

    def env(self, name):
        home = os.path.join(self.tmp, name)
        os.makedirs(home, exist_ok=True)
        env = dict(os.environ)
        env.update({"HOME": home, "XDG_DATA_HOME": os.path.join(home, "data"),
                    "XDG_CONFIG_HOME": os.path.join(home, "config"),
                    "G_DEBUG": "", "GIO_USE_PROXY_RESOLVER": "dummy"})
        return env

    def spawn(self, host, name, *cmd):
        p = subprocess.Popen([NETLAB, "exec", host, "--", *cmd], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=self.env(name))
        self.procs.append(p)
        return p

    def start_relay(self, host, name, address):
        identity = os.path.join(self.tmp, f"{name}.pem")
        p = self.spawn(host, name, RELAY, "--listen", "0.0.0.0:4433", "--identity", identity)
        line = p.stdout.readline().strip()
        if not line.startswith("wzps://"):
            raise RuntimeError(f"relay in {host} did not start: {line} {p.stderr.read()}")
        fingerprint = line.split("#", 1)[1]
        return f"wzps://{address}:4433#{fingerprint}"

    def fingerprint(self, name):
        identity = os.path.join(self.tmp, f"{name}.pem")
        r = subprocess.run([CLI, "--identity", identity, "fingerprint"], capture_output=True,
                           text=True, timeout=30, env=self.env(name))
        if r.returncode != 0:
            raise RuntimeError(f"wzp-cli fingerprint: {r.stderr.strip()}")
        return r.stdout.strip()

    def cli(self, host, name, relay, *args, reflector=None):
        identity = os.path.join(self.tmp, f"{name}.pem")
        cmd = [CLI, "--relay", relay, "--identity", identity, "--alias", name, "--json"]
        if reflector:
            cmd += ["--reflector", reflector]
        return self.spawn(host, name, *cmd, *args)

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.procs = []


def events(proc, timeout=40):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    parsed = []
    for line in out.splitlines():
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pass
    return proc.returncode, parsed, err


def first(evs, kind):
    for e in evs:
        if e.get("event") == kind:
            return e
    return None


def call_case(lab, name, relay, caller_host, callee_host, expect_kind, answer="trusted",
              reflector=None):
    callee_fp = lab.fingerprint(f"{name}-callee")
    lab.fingerprint(f"{name}-caller")
    listener = lab.cli(callee_host, f"{name}-callee", relay, "listen", "--answer", answer,
                       "--calls", "1", "--hold", "2", reflector=reflector)
    time.sleep(1.0)   # registered (and NAT type measured) before the call arrives
    caller = lab.cli(caller_host, f"{name}-caller", relay, "call", callee_fp, "--hold", "1",
                     reflector=reflector)
    rc, evs, err = events(caller)
    lrc, levs, lerr = events(listener)
    path = first(evs, "path")
    lpath = first(levs, "path")
    candidates = [f"{e.get('kind')} {e.get('addr')} {e.get('result')}" for e in evs
                  if e.get("event") == "candidate"]
    detail = (f"caller path {path and path.get('kind')} via {path and path.get('remote')} "
              f"in {path and path.get('ms')} ms; callee path {lpath and lpath.get('kind')}; "
              f"candidates: {', '.join(candidates)}")
    ok = (rc == 0 and path is not None and lpath is not None and
          path.get("kind") == expect_kind and lpath.get("kind") == expect_kind)
    if not ok:
        detail += f"; caller rc={rc} stderr={err.strip()[-300:]} callee rc={lrc} {lerr.strip()[-300:]}"
    tap(ok, f"{name}: {caller_host} -> {callee_host} is {expect_kind}", detail)
    for e in evs:   # the caller's timeline, for the log
        print("#   " + json.dumps(e), flush=True)


def nat_case(lab, name, relay, reflector, host, expect):
    lab.fingerprint(name)
    p = lab.cli(host, name, relay, "nat", reflector=reflector)
    rc, evs, err = events(p, timeout=30)
    nat = first(evs, "nat")
    ok = rc == 0 and nat is not None and nat.get("type") == expect
    tap(ok, f"{name}: NAT type seen from {host} is {expect}",
        f"got {nat} rc={rc} {err.strip()[-200:]}")


def read_events_until(proc, kind, timeout):
    """Reads JSON event lines until one of @kind arrives; returns (found, all read)."""
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        line = proc.stdout.readline()
        if not line:
            break
        try:
            event = json.loads(line)
        except ValueError:
            continue
        got.append(event)
        if event.get("event") == kind:
            return event, got
    return None, got


def fallback_case(lab, name, relay, reflector):
    """A call on a direct path whose packets start being dropped in nat2 (one side's
    router only) must move to the relay within about 3 s and carry on."""
    callee_fp = lab.fingerprint(f"{name}-callee")
    lab.fingerprint(f"{name}-caller")
    listener = lab.cli("lan2a", f"{name}-callee", relay, "listen", "--answer", "trusted",
                       "--calls", "1", reflector=reflector)
    time.sleep(1.0)
    caller = lab.cli("lan1a", f"{name}-caller", relay, "call", callee_fp, "--hold", "9",
                     reflector=reflector)
    first, seen = read_events_until(caller, "path", 20)
    if first is None or first.get("kind") != "direct-internet":
        tap(False, f"{name}: starts direct", f"first path {first}, events {seen}")
        return
    drop_start = time.monotonic()
    # Drop the direct path (everything between the two NATs' WAN addresses) in nat2 only.
    lab.run("exec", "nat2", "--", "nft", "add", "table", "inet", "wzptest")
    lab.run("exec", "nat2", "--", "nft", "add", "chain", "inet", "wzptest", "blackhole",
            "{ type filter hook forward priority -10 ; }")
    lab.run("exec", "nat2", "--", "nft", "add", "rule", "inet", "wzptest", "blackhole",
            "ip", "saddr", "198.51.100.1", "drop")
    r = lab.run("exec", "nat2", "--", "nft", "add", "rule", "inet", "wzptest", "blackhole",
                "ip", "daddr", "198.51.100.1", "drop")
    if r.returncode != 0:
        tap(False, f"{name}: drop rule in nat2", r.stderr.strip())
        return
    second, more = read_events_until(caller, "path", 15)
    gap_ms = int((time.monotonic() - drop_start) * 1000)
    lab.run("exec", "nat2", "--", "nft", "delete", "table", "inet", "wzptest")
    rc, rest, err = events(caller, timeout=30)
    lrc, levs, lerr = events(listener, timeout=30)
    ended = first_event = None
    for e in more + rest:
        if e.get("event") == "ended":
            ended = e
    ok = (second is not None and second.get("kind") == "relay" and gap_ms <= 4500 and
          rc == 0 and ended is not None and ended.get("reason") == "normal")
    tap(ok, f"{name}: direct path dropped in nat2 -> relay, call continues",
        f"gap {gap_ms} ms from the drop to the relay path; second path {second}; "
        f"ended {ended}; rc={rc} {err.strip()[-200:]}")


def ula_case(lab, name, relay):
    """Same LAN, only the ULA addresses usable between the two hosts: lan1b's own
    firewall drops lan1a's IPv4 and global IPv6 source addresses (signalling to the relay
    is untouched). The call must find the ULA host candidate: direct-lan over IPv6."""
    rules = [["add", "table", "inet", "wzpula"],
             ["add", "chain", "inet", "wzpula", "inbound",
              "{ type filter hook input priority -10 ; }"],
             ["add", "rule", "inet", "wzpula", "inbound", "ip", "saddr", "192.168.88.21", "drop"],
             ["add", "rule", "inet", "wzpula", "inbound", "ip6", "saddr", "2001:db8:1::21",
              "drop"]]
    for rule in rules:
        r = lab.run("exec", "lan1b", "--", "nft", *rule)
        if r.returncode != 0:
            tap(False, f"{name}: firewall rule in lan1b", r.stderr.strip())
            return
    try:
        call_case(lab, name, relay, "lan1a", "lan1b", "direct-lan")
    finally:
        lab.run("exec", "lan1b", "--", "nft", "delete", "table", "inet", "wzpula")


def flush_ipv6(lab, *hosts):
    # Without global IPv6 the hosts have only their IPv4 paths: this isolates what the
    # NATs allow (IPv6 is routed without NAT and would connect directly anyway).
    for host in hosts:
        lab.run("exec", host, "--", "ip", "-6", "addr", "flush", "dev", "eth0", "scope", "global")


def main():
    # If anything hangs, say where before meson's timeout kills the test.
    faulthandler.dump_traceback_later(500, exit=True)
    print("# waiting for the netlab lock and checking the lab", flush=True)
    reason = skip_reason()
    if reason:
        if REQUIRE:
            print("1..1")
            print(f"not ok 1 netlab required (WZP_REQUIRE_NETLAB=1) but unusable: {reason}")
            return 1
        print(f"1..0 # SKIP {reason}")
        return 0

    with open(LOCK, "w") as lockfile:
        fcntl.flock(lockfile, fcntl.LOCK_EX)
        tmp = tempfile.mkdtemp(prefix="wzp-netlab-")
        lab = Lab(tmp)
        try:
            lab.run("down", "--kill")
            lab.up("cone")
            relay_a = lab.start_relay("relayA", "relayA", "203.0.113.10")
            relay_b = lab.start_relay("relayB", "relayB", "203.0.113.20")

            nat_case(lab, "nat-cone", relay_a, relay_b, "lan1a", "cone")
            call_case(lab, "same-lan", relay_a, "lan1a", "lan1b", "direct-lan")
            ula_case(lab, "same-lan-ula", relay_a)
            call_case(lab, "ipv6-firewalls", relay_a, "lan1a", "lan2a", "direct-internet")
            call_case(lab, "privacy", relay_a, "lan1a", "lan1b", "relay", answer="privacy")
            flush_ipv6(lab, "lan1a", "lan2a")
            call_case(lab, "cone-nats-ipv4", relay_a, "lan1a", "lan2a", "direct-internet",
                      reflector=relay_b)
            fallback_case(lab, "fallback", relay_a, relay_b)
            lab.stop_all()

            lab.run("down", "--kill")
            lab.up("symmetric")
            relay_a = lab.start_relay("relayA", "relayA2", "203.0.113.10")
            relay_b = lab.start_relay("relayB", "relayB2", "203.0.113.20")
            nat_case(lab, "nat-symmetric", relay_a, relay_b, "lan1a", "symmetric")
            flush_ipv6(lab, "lan1a", "lan2a")
            # Both sides know their mapping is symmetric (a second reflector), so nobody
            # dials a reflexive address and the relay need not wait for a head start.
            call_case(lab, "symmetric-nats-ipv4", relay_a, "lan1a", "lan2a", "relay",
                      reflector=relay_b)
        except Exception as e:  # report, never leave the lab up
            tap(False, "netlab run", f"{type(e).__name__}: {e}")
        finally:
            lab.stop_all()
            lab.run("down", "--kill")
            shutil.rmtree(tmp, ignore_errors=True)

    print(f"1..{len(results)}")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
