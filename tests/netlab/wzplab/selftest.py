# selftest.py: the lab's own checks (`netlab selftest`, meson test `netlab-selftest`). Each
# check prints "ok - ..." or "not ok - ...", with what was seen; the last line counts them.
#
# Per mode (expectations follow the mode):
#   (a) reflexive addresses: lan1a, lan2a, lan3a (CGNAT) -> relayA over UDP and TCP are seen
#       as their router's public address; IPv6 is seen un-NATed
#   (b) mapping: one lan1a socket towards relayA and relayB: the same port (cone) or not
#       (symmetric), UDP and TCP
#   (c) hairpinning: lan1b -> nat1's public address and lan1a's mapped port reaches lan1a
#       only with hairpin on
#   (d) same LAN: lan1b reaches lan1a at its private, global and ULA addresses directly;
#       lan2a cannot reach lan1a's private or ULA address
#   (e) hole punch lan1a <-> lan2a with the addresses relayA saw: works between cone NATs,
#       fails if either is symmetric; over IPv6 it works through both firewalls
#   (f) unsolicited inbound from relayA to the routers' public addresses is dropped without
#       an answer; to lan1a's global IPv6 address too, unless --v6-open
# With --all, the modes cone, symmetric, cone with nat2 symmetric, hairpin on and --v6-open
# in turn, then the WAN:
#   (g) delay: lan1a -> relayA's RTT grows by about 2 x delay, the LAN's does not
#   (h) loss: the share of echo rounds lost matches the loss asked (each round crosses the
#       WAN twice), random and in bursts; none lost on the LAN
#
# Exit status: 0 all passed, 1 a check failed, 77 the lab cannot run here (1 instead with
# WZP_REQUIRE_NETLAB=1). It always removes the lab it built (it starts by removing any lab
# left over: it holds the lab lock, so nobody else is using one).
#
# SPDX-License-Identifier: GPL-3.0-or-later

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from . import lab, lock, plan, procs, wan
from .netns import LabError

HERE = os.path.dirname(os.path.abspath(__file__))
PROBES = os.path.join(HERE, "probes.py")
PORT = 9478          # reflectors on the relays (3478 is left to real relays)
HOST_PORT = 9601     # lan1a's own server, for the same-LAN checks
CLOSED_PORT = 9777   # a port nobody mapped, for unsolicited inbound
RA, RB, RA6 = f"{plan.RELAY_A}:{PORT}", f"{plan.RELAY_B}:{PORT}", f"[{plan.RELAY_A6}]:{PORT}"
DELAY_MS = 20
LOSS_PCT = 10
ROUNDS = 400


class Run:
    def __init__(self, tmp):
        self.tmp = tmp
        self.passed = self.failed = 0
        self.background = []
        self.files = 0

    def unique(self):
        """A number for the next file names: no run reads what an earlier one left."""
        self.files += 1
        return self.files

    def check(self, ok, text):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print(("ok - " if ok else "not ok - ") + text, flush=True)

    def probe(self, host, *args, timeout=30):
        """Runs probes.py in HOST to its end; its JSON lines."""
        try:
            r = subprocess.run(lab.exec_argv(host, [sys.executable, PROBES, *args]),
                               capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return [{"error": "probe timed out"}]
        return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")] \
            or [{"error": r.stderr.strip()[-200:]}]

    def start(self, name, host, *args):
        """Starts probes.py in HOST in the background, its output in a file; waits for a
        server to be ready."""
        out = os.path.join(self.tmp, name)
        with open(out, "w") as f:
            p = subprocess.Popen(lab.exec_argv(host, [sys.executable, PROBES, *args]),
                                 stdout=f, stderr=subprocess.DEVNULL)
        self.background.append(p)
        if args[0] == "serve":
            self.wait_for(out, "ready")
        return p, out

    def wait_for(self, path, key, seconds=5):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            found = self.read(path, key)
            if found:
                return found[0][key]
            time.sleep(0.05)
        return None

    @staticmethod
    def read(path, key=None):
        try:
            with open(path) as f:
                lines = [json.loads(x) for x in f if x.startswith("{")]
        except (OSError, ValueError):
            return []
        return [x for x in lines if key is None or key in x]

    def finish(self, p, seconds=15):
        """Waits for P to end by itself (at most SECONDS), then ends it."""
        try:
            p.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            procs.stop(p, 3)

    def stop_all(self):
        for p in self.background:        # only what this run started, by PID
            procs.stop(p, 3)
        self.background = []


def reflector(run, name, host, port, seconds):
    """A reflector in HOST on PORT: UDP and TCP, IPv4 and IPv6."""
    return run.start(name, host, "serve", "--seconds", str(seconds),
                     "--udp", f"0.0.0.0:{port}", "--udp", f"[::]:{port}",
                     "--tcp", f"0.0.0.0:{port}", "--tcp", f"[::]:{port}")


def ip_of(addr):
    return addr.rsplit(":", 1)[0].strip("[]") if addr else None


def port_of(addr):
    return addr.rsplit(":", 1)[1] if addr else None


def mode_checks(run, s):
    label = s.text()
    print(f"# mode: {label}", flush=True)
    cone12 = s.modes["nat1"] == "cone" and s.modes["nat2"] == "cone"
    servers = [reflector(run, f"reflector-{h}-{run.unique()}", h, PORT, 90)[0]
               for h in ("relayA", "relayB")]

    # (a)
    for host, proto, target, want in (("lan1a", "udp", RA, "198.51.100.1"),
                                       ("lan1a", "tcp", RA, "198.51.100.1"),
                                       ("lan2a", "udp", RA, "198.51.100.2"),
                                       ("lan3a", "udp", RA, "198.51.100.3"),
                                       ("lan3a", "tcp", RA, "198.51.100.3"),
                                       ("lan1a", "udp", RA6, "2001:db8:1::21"),
                                       ("lan1a", "tcp", RA6, "2001:db8:1::21")):
        r = run.probe(host, "probe", "--proto", proto, "--to", target)[0]
        seen = (r.get("seen") or [None])[0]
        run.check(ip_of(seen) == want,
                  f"(a) {host} -> relayA {target} over {proto}: seen as {seen} (want {want})")

    # (b)
    for proto in ("udp", "tcp"):
        r = run.probe("lan1a", "probe", "--proto", proto, "--to", RA, "--to", RB)[0]
        a, b = (r.get("seen") or [None, None])
        if s.modes["nat1"] == "cone":
            ok, want = a is not None and a == b, "the same mapping"
        else:
            ok, want = a is not None and b is not None and port_of(a) != port_of(b), \
                "a port per destination"
        run.check(ok, f"(b) {s.modes['nat1']}: one lan1a {proto} socket seen by relayA as {a}, "
                      f"by relayB as {b} ({want})")

    # (c)
    for proto in ("udp", "tcp"):
        n = run.unique()
        mapfile = os.path.join(run.tmp, f"hold-{proto}-{n}.map")
        p, out = run.start(f"hold-{proto}-{n}", "lan1a", "hold", "--proto",
                           proto, "--server", RA, "--mapfile", mapfile, "--seconds", "6")
        mapped = run.wait_for(out, "mapped")
        if not mapped:
            run.check(False, f"(c) {proto}: lan1a did not learn its mapping")
            continue
        r = run.probe("lan1b", "probe", "--proto", proto, "--to", mapped, "--timeout", "1")[0]
        seen = (r.get("seen") or [None])[0]
        time.sleep(0.2)
        reached = [x["reached_by"] for x in run.read(out, "reached_by")]
        p.terminate()
        run.finish(p)
        if s.hairpin:
            run.check(bool(reached) and ip_of(reached[0]) == "198.51.100.1",
                      f"(c) hairpin on: lan1b -> {mapped} over {proto} reaches lan1a, which "
                      f"sees {reached[0] if reached else 'nothing'}")
        else:
            run.check(not reached and seen is None,
                      f"(c) hairpin off: lan1b -> {mapped} over {proto} does not reach lan1a "
                      f"({(r.get('errors') or ['?'])[0] if seen is None else 'answer ' + seen})")

    # (d)
    server, _ = reflector(run, f"lan1a-server-{run.unique()}", "lan1a", HOST_PORT, 30)
    for target, want in (("192.168.88.21", "192.168.88.22"), ("2001:db8:1::21", "2001:db8:1::22"),
                         ("fd00:1::21", "fd00:1::22")):
        addr = f"[{target}]:{HOST_PORT}" if ":" in target else f"{target}:{HOST_PORT}"
        for proto in ("udp", "tcp"):
            r = run.probe("lan1b", "probe", "--proto", proto, "--to", addr)[0]
            seen = (r.get("seen") or [None])[0]
            run.check(ip_of(seen) == want, f"(d) lan1b -> lan1a at {target} over {proto}, "
                                           f"directly: seen as {seen}")
    for target in ("192.168.88.21", "fd00:1::21"):
        addr = f"[{target}]:{HOST_PORT}" if ":" in target else f"{target}:{HOST_PORT}"
        r = run.probe("lan2a", "probe", "--to", addr, "--timeout", "0.5")[0]
        seen = (r.get("seen") or [None])[0]
        run.check(seen is None, f"(d) lan2a cannot reach lan1a's {target} across sites "
                                f"({(r.get('errors') or ['?'])[0] if seen is None else seen})")
    server.terminate()
    run.finish(server)

    # (e)
    for family, server_addr in ((4, RA), (6, RA6)):
        n = run.unique()
        files = [os.path.join(run.tmp, f"punch{family}-{h}-{n}") for h in ("lan1a", "lan2a")]
        procs = [run.start(os.path.basename(files[i]) + ".out", host, "punch", "--server",
                           server_addr, "--mapfile", files[i], "--peerfile", files[1 - i])
                 for i, host in enumerate(("lan1a", "lan2a"))]
        for p, _ in procs:
            run.finish(p)
        got = [(run.read(out, "received") or [{}])[0] for _, out in procs]
        both = all(g.get("received") for g in got)
        neither = all(g.get("mapped") and not g.get("received") for g in got)
        seen = " <-> ".join(str(g.get("mapped")) for g in got)
        if family == 6:
            run.check(both, f"(e) IPv6 hole punch lan1a <-> lan2a through both firewalls: {seen}, "
                            f"received {[g.get('received') for g in got]}")
        elif cone12:
            run.check(both, f"(e) cone: hole punch lan1a <-> lan2a succeeds: {seen}, "
                            f"received {[g.get('received') for g in got]}")
        else:
            run.check(neither, f"(e) nat1 {s.modes['nat1']}, nat2 {s.modes['nat2']}: hole "
                               f"punch lan1a <-> lan2a fails: {seen}, "
                               f"received {[g.get('received') for g in got]}")

    # (f)
    server, out = reflector(run, f"lan1a-closed-{run.unique()}", "lan1a", CLOSED_PORT, 30)
    probes = []
    for target in ("198.51.100.1", "198.51.100.2", "[2001:db8:1::21]"):
        for proto in ("udp", "tcp"):
            name = f"unsolicited-{proto}-{target.strip('[]')}-{run.unique()}"
            probes.append((target, proto, run.start(name, "relayA", "probe", "--proto", proto,
                                                    "--to", f"{target}:{CLOSED_PORT}",
                                                    "--timeout", "1.5", "--tries", "1")))
    for target, proto, (p, path) in probes:
        run.finish(p)
        r = (run.read(path, "seen") or [{}])[0]
        seen = (r.get("seen") or [None])[0]
        error = (r.get("errors") or [None])[0]
        if target.startswith("[") and s.v6_open:
            run.check(ip_of(seen) == plan.RELAY_A6,
                      f"(f) --v6-open: unsolicited {proto} relayA -> lan1a {target} is let in "
                      f"(seen as {seen or error})")
        else:
            run.check(seen is None and error == "timeout",
                      f"(f) unsolicited {proto} relayA -> {target}:{CLOSED_PORT} dropped "
                      f"without an answer ({seen or error})")
    server.terminate()
    run.finish(server)
    for p in servers:
        p.terminate()
        run.finish(p)


def ping(run, host, target, count=20, interval="0.01"):
    r = run.probe(host, "ping", "--to", target, "--count", str(count), "--interval", interval,
                  "--timeout", "1")[0]
    return r


def runs_of(lost):
    """Mean length of the runs of consecutive lost rounds."""
    if not lost:
        return 0.0
    runs, length = [], 1
    for a, b in zip(lost, lost[1:]):
        if b == a + 1:
            length += 1
        else:
            runs.append(length)
            length = 1
    runs.append(length)
    return statistics.mean(runs)


def wan_checks(run):
    print("# WAN delay and loss", flush=True)
    reason = wan.unusable_reason()
    if reason:
        run.check(os.environ.get("WZP_REQUIRE_NETLAB") != "1",
                  f"(g) (h) WAN delay and loss # SKIP {reason}")
        return
    servers = [run.start(f"echo-{h}", h, "serve", "--seconds", "120",
                         "--udp", f"0.0.0.0:{PORT}")[0] for h in ("relayA", "lan1a")]
    lan = f"192.168.88.21:{PORT}"
    base_wan = ping(run, "lan1a", RA)["median_ms"]
    base_lan = ping(run, "lan1b", lan)["median_ms"]
    wan.set(DELAY_MS, 0)
    wan_rtt = ping(run, "lan1a", RA)["median_ms"]
    lan_rtt = ping(run, "lan1b", lan)["median_ms"]
    site_rtt = ping(run, "lan2a", RA)["median_ms"]
    grown = (wan_rtt or 0) - (base_wan or 0)
    run.check(2 * DELAY_MS * 0.9 <= grown <= 2 * DELAY_MS + 10,
              f"(g) delay {DELAY_MS} ms: RTT lan1a -> relayA {base_wan:.2f} -> {wan_rtt:.2f} ms "
              f"(grew {grown:.1f}, want about {2 * DELAY_MS})")
    run.check(site_rtt is not None and site_rtt >= 2 * DELAY_MS * 0.9,
              f"(g) delay {DELAY_MS} ms: RTT lan2a -> relayA {site_rtt:.2f} ms")
    run.check(lan_rtt is not None and lan_rtt < base_lan + 2,
              f"(g) delay {DELAY_MS} ms: LAN RTT lan1b -> lan1a {base_lan:.2f} -> "
              f"{lan_rtt:.2f} ms (unchanged)")

    expected = 100 * (1 - (1 - LOSS_PCT / 100) ** 2)
    for burst in (1, 5):
        wan.set(0, LOSS_PCT, burst, seed=7)
        r = ping(run, "lan1a", RA, count=ROUNDS, interval="0.005")
        rl = ping(run, "lan1b", lan, count=100, interval="0.005")
        lost = 100 * (1 - r["received"] / r["sent"])
        mean_run = runs_of(r["lost"])
        kind = "random" if burst == 1 else f"bursts of {burst}"
        tolerance = 6 if burst == 1 else 10
        run.check(abs(lost - expected) <= tolerance,
                  f"(h) loss {LOSS_PCT}% ({kind}): {lost:.1f}% of {ROUNDS} echo rounds "
                  f"lan1a -> relayA lost (want {expected:.1f} +- {tolerance}); mean run "
                  f"{mean_run:.2f} rounds")
        if burst > 1:
            run.check(mean_run >= 2, f"(h) bursty loss comes in runs: mean run of lost rounds "
                                     f"{mean_run:.2f} (random: about 1.2)")
        run.check(rl["received"] == rl["sent"],
                  f"(h) loss {LOSS_PCT}% ({kind}): the LAN lost {rl['sent'] - rl['received']} of "
                  f"{rl['sent']} rounds")
    wan.set(0, 0)
    after = ping(run, "lan1a", RA)["median_ms"]
    run.check(after is not None and after < (base_wan or 0) + 2,
              f"(g) wan --off: RTT lan1a -> relayA back to {after:.2f} ms")
    for p in servers:
        p.terminate()
        run.finish(p)


def main(settings, every_mode):
    require = os.environ.get("WZP_REQUIRE_NETLAB") == "1"
    reason = lab.unusable_reason()
    if reason:
        print(f"netlab selftest: {'FAIL (WZP_REQUIRE_NETLAB=1)' if require else 'SKIP'}: "
              f"{reason}")
        return 1 if require else 77
    modes = [settings or lab.Settings()]
    if every_mode:
        modes = [lab.Settings("cone"), lab.Settings("symmetric"),
                 lab.Settings("cone", {"nat2": "symmetric"}),
                 lab.Settings("cone", hairpin=True), lab.Settings("cone", v6_open=True)]
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="wzplab-selftest-")
    run = Run(tmp)
    with lock.held(say=lambda m: print(f"# {m}", flush=True)):
        try:
            lab.down(kill=True, quiet=True)
            for s in modes:
                lab.up(s)
                mode_checks(run, s)
                run.stop_all()
            if every_mode:
                lab.up(lab.Settings("cone"))
                wan_checks(run)
        except (LabError, OSError, subprocess.SubprocessError) as e:
            run.check(False, f"the self-check stopped: {type(e).__name__}: {e}")
        finally:
            run.stop_all()
            lab.down(kill=True, quiet=True)
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{run.passed} passed, {run.failed} failed ({time.monotonic() - started:.0f} s)")
    return 0 if run.failed == 0 else 1
