#!/usr/bin/python3
# test-netlab-calls.py: end-to-end calls in the project's network lab (tests/netlab/netlab)
# with real NATs
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Each case starts relays in relayA/relayB and wzp-cli clients on the lab's hosts, and
# checks the path the call took, from the clients' JSON events. The lab is machine-wide
# state: this test takes a lock, brings the lab up itself and always takes it down.
# Output is TAP. Without root or the lab's tools it skips, unless WZP_REQUIRE_NETLAB=1
# (CI), where a skip is a failure (docs/decisions.md, "A skipped network-lab test fails CI").

import faulthandler
import json
import select
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# The lab beside this file; WZP_NETLAB names another one with the same commands.
NETLAB = os.environ.get("WZP_NETLAB") or os.path.join(HERE, "netlab")
sys.path.insert(0, HERE)
from wzplab import lock, procs  # noqa: E402  (the lab's lock, re-entrant for children)
RELAY = os.environ.get("WZP_RELAY_BIN", "build/wzp-relay/wzp-relay")
CLI = os.environ.get("WZP_CLI_BIN", "build/libwzp-glib/tools/wzp-cli")
# Arguments: [--build DIR] [CASE...]: the binaries of build directory DIR, and only the
# named cases (the names the TAP lines start with; default: every case).
ARGS = sys.argv[1:]
if len(ARGS) >= 2 and ARGS[0] == "--build":
    RELAY = os.path.join(ARGS[1], "wzp-relay", "wzp-relay")
    CLI = os.path.join(ARGS[1], "libwzp-glib", "tools", "wzp-cli")
    ARGS = ARGS[2:]
SELECTED = set(ARGS)


def wanted(name):
    return not SELECTED or name in SELECTED
REQUIRE = os.environ.get("WZP_REQUIRE_NETLAB") == "1"

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
            procs.stop(p)
        self.procs = []


def events(proc, timeout=40):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    out = _unread.pop(proc, b"").decode("utf-8", "replace") + out
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
    if not wanted(name):
        return
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
    if not wanted(name):
        return
    lab.fingerprint(name)
    p = lab.cli(host, name, relay, "nat", reflector=reflector)
    rc, evs, err = events(p, timeout=30)
    nat = first(evs, "nat")
    ok = rc == 0 and nat is not None and nat.get("type") == expect
    tap(ok, f"{name}: NAT type seen from {host} is {expect}",
        f"got {nat} rc={rc} {err.strip()[-200:]}")


# Bytes read from a process's stdout that read_events_until() has not returned yet. It
# reads the fd itself: select() on a text stream misses lines already in the stream's
# buffer, and then waits for the process's next line (seconds later: a 9 s "gap" once).
_unread = {}


def read_events_until(proc, kind, timeout):
    """Reads JSON event lines until one of @kind arrives; returns (found, all read)."""
    got = []
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    buf = _unread.pop(proc, b"")
    try:
        while True:
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    event = json.loads(line.decode("utf-8", "replace"))
                except ValueError:
                    continue
                got.append(event)
                if event.get("event") == kind:
                    return event, got
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None, got
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                return None, got
            chunk = os.read(fd, 65536)
            if not chunk:
                return None, got
            buf += chunk
    finally:
        _unread[proc] = buf


def fallback_case(lab, name, relay, reflector):
    """A call on a direct path whose packets start being dropped in nat2 (one side's
    router only) must move to the relay within about 3 s and carry on."""
    if not wanted(name):
        return
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


# Voice (issue 18): the caller sends a 440 Hz tone (wzp-cli --audio-in tone), the callee
# records what it hears (--audio-out FILE). What arrived is read from the recording.
def wav_blocks(path, ms=20):
    """The RMS (full scale 1.0) of each @ms block of a 16-bit mono WAV file, and its rate."""
    import array
    import math
    import wave
    with wave.open(path, "rb") as w:
        rate = w.getframerate()
        samples = array.array("h", w.readframes(w.getnframes()))
    step = rate * ms // 1000
    rms = []
    for i in range(0, len(samples) - step + 1, step):
        block = samples[i:i + step]
        rms.append(math.sqrt(sum(x * x for x in block) / step) / 32768.0)
    return rms, rate


def tone_ratio(path, freq, other, seconds=1.0):
    """Goertzel power of @freq over that of @other in the last @seconds of a recording."""
    import array
    import math
    import wave
    with wave.open(path, "rb") as w:
        rate = w.getframerate()
        samples = array.array("h", w.readframes(w.getnframes()))
    tail = samples[-int(rate * seconds):]

    def power(f):
        coeff = 2 * math.cos(2 * math.pi * f / rate)
        s1 = s2 = 0.0
        for x in tail:
            s1, s2 = x / 32768.0 + coeff * s1 - s2, s1
        return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (len(tail) ** 2)
    return power(freq) / max(power(other), 1e-12)


def longest_quiet_ms(rms, threshold=0.01, ms=20):
    """The longest run of blocks under @threshold, after the first loud block, in ms."""
    longest = run = 0
    started = False
    for r in rms:
        if r >= threshold:
            started = True
            run = 0
        elif started:
            run += 1
            longest = max(longest, run)
    return longest * ms


def voice_case(lab, name, relay, expect_kind, caller_args=(), damage=None, repair=None,
               reflector=None):
    """lan1a calls lan2a and sends a tone for 6 s; lan2a must hear it, on @expect_kind.
    With @damage, run 2 s after the path is up (and @repair at the end): the sound lost at
    the callee (frames concealed: opusdec makes up what is missing, so a recording of a
    tone does not show the hole) must stay under 1.5 s."""
    if not wanted(name):
        return
    heard = os.path.join(lab.tmp, f"{name}-heard.wav")
    callee_fp = lab.fingerprint(f"{name}-callee")
    lab.fingerprint(f"{name}-caller")
    listener = lab.cli("lan2a", f"{name}-callee", relay, "--audio-out", heard, "listen",
                       "--answer", "trusted", "--calls", "1", reflector=reflector)
    try:
        time.sleep(1.0)
        caller = lab.cli("lan1a", f"{name}-caller", relay, "--audio-in", "tone",
                         *caller_args, "call", callee_fp, "--hold", "6", reflector=reflector)
        path1, seen = read_events_until(caller, "path", 20)
        more = []
        if damage is not None and path1 is not None:
            time.sleep(2.0)
            damage()
            _, more = read_events_until(caller, "path", 5)
        rc, rest, err = events(caller, timeout=30)
        lrc, levs, lerr = events(listener, timeout=30)
    finally:
        if repair is not None:
            repair()
    evs = seen + more + rest
    paths = [e.get("kind") for e in evs if e.get("event") == "path"]
    stats = [e for e in levs if e.get("event") == "stats"]
    last = stats[-1] if stats else {}
    try:
        rms, rate = wav_blocks(heard)
        ratio = tone_ratio(heard, 440, 1000)
    except (OSError, EOFError, Exception) as e:  # no file, or not a WAV: the case fails
        rms, rate, ratio = [], 0, 0.0
        err += f" (recording: {e})"
    heard_s = len(rms) * 0.02
    quiet = longest_quiet_ms(rms)
    concealed = last.get("frames-concealed")
    ok = (rc == 0 and lrc == 0 and paths[:1] == [expect_kind] and heard_s >= 4.0 and
          ratio > 100 and quiet <= 200 and concealed is not None and
          concealed * 20 <= (1500 if damage else 200))
    detail = (f"paths {paths}; heard {heard_s:.1f} s, 440 Hz at {ratio:.0f}x 1000 Hz, longest "
              f"quiet {quiet} ms, concealed {concealed and concealed * 20} ms; callee's last stats: received {last.get('frames-received')}, "
              f"concealed {last.get('frames-concealed')}, late {last.get('frames-late')}, "
              f"playout delay {last.get('playout-delay-ms')} ms, rtt {last.get('rtt-ms')} ms")
    if not ok:
        detail += f"; caller rc={rc} {err.strip()[-300:]} callee rc={lrc} {lerr.strip()[-300:]}"
    tap(ok, f"{name}: voice lan1a -> lan2a on {expect_kind}"
        + (", the direct path cut mid-call" if damage else ""), detail)


def block_direct(lab, table):
    """Drops everything between the two NATs' WAN addresses, in nat2 only."""
    cmds = [["add", "table", "inet", table],
            ["add", "chain", "inet", table, "blackhole",
             "{ type filter hook forward priority -10 ; }"],
            ["add", "rule", "inet", table, "blackhole", "ip", "saddr", "198.51.100.1", "drop"],
            ["add", "rule", "inet", table, "blackhole", "ip", "daddr", "198.51.100.1", "drop"]]
    for cmd in cmds:
        r = lab.run("exec", "nat2", "--", "nft", *cmd)
        if r.returncode != 0:
            raise RuntimeError(f"nft {' '.join(cmd)} in nat2: {r.stderr.strip()}")


# Network damage on one side mid-call (issue 7). The gap is measured on the wire: a small
# sniffer in each party's namespace timestamps every TCP segment with payload that arrives
# for the call (any path; not the signalling connections, port 4433). The gap is the
# longest interval without one that overlaps the time after the damage, at either party.
# With no media yet, the call's own traffic is the keepalive (a Ping each second from each
# side, and the Pongs), so an undamaged call shows a baseline of up to about 1 s; each
# case prints the baseline measured before the damage next to the gap.
SNIFFER = r"""
import select, socket, struct, sys, time
iface, seconds = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((iface, 0))
print("ready", flush=True)
end = time.monotonic() + seconds
while time.monotonic() < end:
    r, _, _ = select.select([s, sys.stdin], [], [], max(0.0, end - time.monotonic()))
    if sys.stdin in r:
        break
    if s not in r:
        continue
    data, addr = s.recvfrom(65535)
    if addr[2] == 4 or len(data) < 34:   # PACKET_OUTGOING, or too short
        continue
    now = time.monotonic()
    if data[12:14] == b"\x08\x00" and data[23] == 6:
        ihl = (data[14] & 15) * 4
        total = struct.unpack("!H", data[16:18])[0]
        tcp = 14 + ihl
        sport = struct.unpack("!H", data[tcp:tcp + 2])[0]
        payload = total - ihl - (data[tcp + 12] >> 4) * 4
        src = socket.inet_ntoa(data[26:30])
    elif data[12:14] == b"\x86\xdd" and data[20] == 6:
        tcp = 54
        sport = struct.unpack("!H", data[tcp:tcp + 2])[0]
        payload = struct.unpack("!H", data[18:20])[0] - (data[tcp + 12] >> 4) * 4
        src = socket.inet_ntop(socket.AF_INET6, data[22:38])
    else:
        continue
    if payload > 0 and sport != 4433:
        print("%.4f %s:%d" % (now, src, sport), flush=True)
"""


class Sniffer:
    """Arrival times of call traffic at one party (see SNIFFER)."""

    def __init__(self, lab, host, seconds=40):
        self.host = host
        self.proc = subprocess.Popen([NETLAB, "exec", host, "--", sys.executable, "-c", SNIFFER,
                                      "eth0", str(seconds)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        lab.procs.append(self.proc)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        if not ready or self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"sniffer in {host} did not start: {self.proc.stderr.read()}")

    def stop(self):
        try:
            out, _ = self.proc.communicate("\n", timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return [float(line.split()[0]) for line in out.splitlines() if line.strip()]


def longest_gap(times, start, end):
    """The longest interval without an arrival that overlaps [start, end], in ms."""
    inside = [t for t in times if start <= t <= end]
    before = [t for t in times if t < start]
    after = [t for t in times if t > end]
    points = ([before[-1]] if before else [start]) + inside + ([after[0]] if after else [end])
    return int(max(b - a for a, b in zip(points, points[1:])) * 1000)


def damage_case(lab, name, relay, reflector, damage, repair, new_path_within=None, hold=10,
                describe=""):
    """lan1a calls lan2a (both behind cone NATs, IPv4 only); @damage() runs 3 s after the
    first path, @repair() always runs at the end. The call must carry on to its normal
    end, and with @new_path_within (seconds) be on a new path that soon after the damage.
    Prints the gap at each party and the baseline before the damage."""
    callee_fp = lab.fingerprint(f"{name}-callee")
    lab.fingerprint(f"{name}-caller")
    sniffers = {host: Sniffer(lab, host) for host in ("lan1a", "lan2a")}
    listener = lab.cli("lan2a", f"{name}-callee", relay, "listen", "--answer", "trusted",
                       "--calls", "1", reflector=reflector)
    try:
        time.sleep(1.0)
        caller = lab.cli("lan1a", f"{name}-caller", relay, "call", callee_fp, "--hold",
                         str(hold), reflector=reflector)
        path1, seen = read_events_until(caller, "path", 20)
        if path1 is None:
            tap(False, f"{name}: the call connects", f"events {seen}")
            return
        t_path1 = time.monotonic()
        time.sleep(3.0)
        t_damage = time.monotonic()
        damage()
        if new_path_within is not None:
            path2, more = read_events_until(caller, "path", 15)
        else:
            path2, more = None, []
        t_path2 = time.monotonic() if path2 else None
        rc, rest, err = events(caller, timeout=30)
        lrc, levs, lerr = events(listener, timeout=30)
    finally:
        repair()
    t_end = t_path1 + hold - 0.3   # the caller hangs up `hold` seconds after its first path
    times = {host: s.stop() for host, s in sniffers.items()}
    ended = None
    for e in seen + more + rest:
        if e.get("event") == "ended":
            ended = e
    gaps = {h: longest_gap(t, t_damage, t_end) for h, t in times.items()}
    baseline = {h: longest_gap(t, t_path1 + 0.5, t_damage - 0.2) for h, t in times.items()}
    gap = max(gaps.values())
    paths = [e for e in seen + more + rest if e.get("event") == "path"]
    ok = (rc == 0 and lrc == 0 and ended is not None and ended.get("reason") == "normal" and
          gap <= 4500 and (new_path_within is None or
                           (path2 is not None and t_path2 - t_damage <= new_path_within)))
    lpaths = [e for e in levs if e.get("event") == "path"]
    detail = (f"gap {gap} ms (lan1a {gaps['lan1a']} ms, lan2a {gaps['lan2a']} ms; baseline "
              f"{baseline['lan1a']}/{baseline['lan2a']} ms); caller's paths: "
              + ", ".join(f"{p.get('kind')} via {p.get('remote')}" for p in paths)
              + "; callee's: "
              + ", ".join(f"{p.get('kind')} via {p.get('remote')}" for p in lpaths))
    if path2 is not None:
        detail += f"; new path {int((t_path2 - t_damage) * 1000)} ms after the damage"
    if not ok:
        detail += f"; ended {ended}; caller rc={rc} {err.strip()[-300:]} callee rc={lrc} {lerr.strip()[-300:]}"
    tap(ok, f"{name}: {describe}", detail)
    for e in seen + more + rest:
        if e.get("event") in ("path", "ended"):
            print("#   " + json.dumps(e), flush=True)
    return paths


def nat_flush_case(lab, name, relay, reflector):
    """`netlab flush nat1` mid-call (lan1a's router forgets every mapping, as after a
    reboot): the call carries on, on its path or a new one."""
    if not wanted(name):
        return

    def damage():
        r = lab.run("flush", "nat1")
        if r.returncode != 0:
            raise RuntimeError(f"netlab flush nat1: {r.stderr.strip()}")
    damage_case(lab, name, relay, reflector, damage, lambda: None,
                describe="netlab flush nat1 mid-call, the call carries on")


def address_change_case(lab, name, relay, reflector, host="lan1a", old="192.168.88.21",
                        new="192.168.88.31", gateway="192.168.88.1"):
    """@host's address changes mid-call (like a DHCP renumbering): that side notices
    (GNetworkMonitor), drops the path, registers again and tells the peer its new
    candidates, and the call moves to a new path. lan1a is the caller, lan2a the callee
    (whose lost path the caller learns of through the pipe it opens: PipeRequested)."""
    if not wanted(name):
        return

    def ip(*args):
        return lab.run("exec", host, "--", "ip", *args)

    def damage():
        ip("addr", "del", f"{old}/24", "dev", "eth0")
        ip("addr", "add", f"{new}/24", "dev", "eth0")
        r = ip("route", "add", "default", "via", gateway)
        if r.returncode != 0:
            raise RuntimeError(f"default route in {host}: {r.stderr.strip()}")

    def repair():
        ip("addr", "del", f"{new}/24", "dev", "eth0")
        ip("addr", "add", f"{old}/24", "dev", "eth0")
        ip("route", "replace", "default", "via", gateway)

    # The change is noticed (500 ms of debounce), not waited out (3 s of silence).
    damage_case(lab, name, relay, reflector, damage, repair, new_path_within=2.0,
                describe=f"{host}'s address changed mid-call, the call moves to a new path")


def delayed_direct_case(lab, name, relay, reflector):
    """The direct path's packets are dropped in nat2 while the call starts, so it starts
    on the relay; the rule goes about 1.5 s after CallSetup, and the call must move to the
    direct path (the upgrade) without a gap."""
    if not wanted(name):
        return
    rule = ["inet", "wzpdelay"]

    def block():
        cmds = [["add", "table", *rule],
                ["add", "chain", *rule, "blackhole", "{ type filter hook forward priority -10 ; }"],
                ["add", "rule", *rule, "blackhole", "ip", "saddr", "198.51.100.1", "drop"],
                ["add", "rule", *rule, "blackhole", "ip", "daddr", "198.51.100.1", "drop"]]
        for cmd in cmds:
            r = lab.run("exec", "nat2", "--", "nft", *cmd)
            if r.returncode != 0:
                raise RuntimeError(f"nft {' '.join(cmd)} in nat2: {r.stderr.strip()}")

    def unblock():
        lab.run("exec", "nat2", "--", "nft", "delete", "table", *rule)

    callee_fp = lab.fingerprint(f"{name}-callee")
    lab.fingerprint(f"{name}-caller")
    sniffers = {host: Sniffer(lab, host) for host in ("lan1a", "lan2a")}
    listener = lab.cli("lan2a", f"{name}-callee", relay, "listen", "--answer", "trusted",
                       "--calls", "1", reflector=reflector)
    try:
        time.sleep(1.0)
        block()
        caller = lab.cli("lan1a", f"{name}-caller", relay, "call", callee_fp, "--hold", "8",
                         reflector=reflector)
        setup, seen = read_events_until(caller, "setup", 20)
        t_setup = time.monotonic()
        path1, more = read_events_until(caller, "path", 10)
        if path1 is None or path1.get("kind") != "relay":
            tap(False, f"{name}: starts on the relay", f"first path {path1}, events {seen + more}")
            return
        time.sleep(max(0.0, t_setup + 1.5 - time.monotonic()))
        unblock()
        t_unblock = time.monotonic()
        path2, more2 = read_events_until(caller, "path", 12)
        t_path2 = time.monotonic()
        rc, rest, err = events(caller, timeout=30)
        lrc, levs, lerr = events(listener, timeout=30)
    finally:
        unblock()
    times = {host: s.stop() for host, s in sniffers.items()}
    if path2 is None:
        tap(False, f"{name}: upgraded to direct", f"no second path; {seen + more + more2 + rest}")
        return
    # The switch: from a second before the new path until the end of the call.
    gaps = {h: longest_gap(t, t_path2 - 1.0, t_path2 + 2.0) for h, t in times.items()}
    baseline = {h: longest_gap(t, t_setup + 0.5, t_path2 - 1.0) for h, t in times.items()}
    gap = max(gaps.values())
    ended = next((e for e in rest if e.get("event") == "ended"), None)
    # Seamless: nothing lost beyond the keepalive's own spacing (1 s), with some slack.
    ok = (path2.get("kind") == "direct-internet" and rc == 0 and lrc == 0 and ended is not None
          and ended.get("reason") == "normal" and gap <= 1500)
    detail = (f"relay after {path1.get('ms')} ms, direct via {path2.get('remote')} "
              f"{int((t_path2 - t_unblock) * 1000)} ms after the rule went; gap around the "
              f"switch {gap} ms (lan1a {gaps['lan1a']} ms, lan2a {gaps['lan2a']} ms; baseline "
              f"on the relay {baseline['lan1a']}/{baseline['lan2a']} ms)")
    if not ok:
        detail += f"; ended {ended}; rc={rc} {err.strip()[-300:]} callee rc={lrc} {lerr.strip()[-300:]}"
    tap(ok, f"{name}: direct dials delayed, the call starts on the relay and moves to direct",
        detail)
    for e in seen + more + more2 + rest:
        if e.get("event") in ("setup", "path", "ended"):
            print("#   " + json.dumps(e), flush=True)


def ula_case(lab, name, relay):
    """Same LAN, only the ULA addresses usable between the two hosts: lan1b's own
    firewall drops lan1a's IPv4 and global IPv6 source addresses (signalling to the relay
    is untouched). The call must find the ULA host candidate: direct-lan over IPv6."""
    if not wanted(name):
        return
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


# Federation (issue 8): relay A and relay B federated with each other, a client registered
# at each. They run beside the unfederated relays of the other cases, on port 5433 (pipes
# 5434), for one case each; their logs go to files (read on failure), not to pipes that
# nobody reads while the case runs.
FED_PORT = 5433


def start_federated_relays(lab, tag):
    """Relay A (relayA) and relay B (relayB), each with --peer naming the other, both
    fingerprints pinned. Returns (uri_a, uri_b, procs, logs) once both links are up."""
    hosts = {"A": ("relayA", "203.0.113.10"), "B": ("relayB", "203.0.113.20")}
    identity = {k: os.path.join(lab.tmp, f"{tag}-relay{k}.pem") for k in hosts}
    uri = {}
    for k, (host, address) in hosts.items():
        r = subprocess.run([RELAY, "--print-fingerprint", "--identity", identity[k]],
                           capture_output=True, text=True, timeout=30, env=lab.env(f"{tag}-{k}"))
        if r.returncode != 0:
            raise RuntimeError(f"wzp-relay --print-fingerprint: {r.stderr.strip()}")
        uri[k] = f"wzps://{address}:{FED_PORT}#{r.stdout.strip()}"
    procs, logs = {}, {}
    for k, (host, _) in hosts.items():
        other = "B" if k == "A" else "A"
        logs[k] = os.path.join(lab.tmp, f"{tag}-relay{k}.log")
        with open(logs[k], "w") as log:
            p = subprocess.Popen([NETLAB, "exec", host, "--", RELAY, "--listen",
                                  f"0.0.0.0:{FED_PORT}", "--identity", identity[k],
                                  "--peer", uri[other]],
                                 stdout=subprocess.PIPE, stderr=log, text=True,
                                 env=lab.env(f"{tag}-{k}"))
        lab.procs.append(p)
        procs[k] = p
        ready, _, _ = select.select([p.stdout], [], [], 15)
        line = p.stdout.readline().strip() if ready else ""
        if not line.startswith("wzps://"):
            raise RuntimeError(f"federated relay in {host} did not start: {line} "
                               f"{open(logs[k]).read()[-300:]}")
    # Both links up: the relays log it (INFO). Without that line in time, go on: the
    # case then fails with the relays' logs in its detail.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if all("up" in link_lines(logs[k]) for k in logs):
            break
        time.sleep(0.1)
    return uri["A"], uri["B"], procs, logs


def link_lines(path):
    """The federation link states a relay's log mentions, in order: its INFO lines
    "Peer relay URI: link up (...)" and "Peer relay URI: link down: ..."."""
    states = []
    with open(path) as f:
        for line in f:
            if "Peer relay " in line:
                for state in ("up", "down"):
                    if f": link {state}" in line:
                        states.append(state)
    return states


def stop_procs(lab, procs):
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in lab.procs:
            lab.procs.remove(p)


def federated_call_case(lab, name, caller_host, callee_host, expect_kind):
    """A client of relay A (@caller_host) calls a client of relay B (@callee_host). Both
    parties must end up on @expect_kind; for "relay", each on a pipe at its own relay
    (the caller's remote address is relay A's, the callee's relay B's), so the bytes
    cross the bridge between the two relays."""
    if not wanted(name):
        return
    uri_a, uri_b, relays, logs = start_federated_relays(lab, name)
    try:
        callee_fp = lab.fingerprint(f"{name}-callee")
        lab.fingerprint(f"{name}-caller")
        listener = lab.cli(callee_host, f"{name}-callee", uri_b, "listen", "--answer",
                           "trusted", "--calls", "1", "--hold", "2")
        # Registered at B, then B's presence update (batched, at most one a second) has
        # reached A, and the callee has measured its NAT type (against B and, from B's
        # ack, A).
        registered, _ = read_events_until(listener, "registered", 15)
        if registered is not None:
            time.sleep(1.5)
            caller = lab.cli(caller_host, f"{name}-caller", uri_a, "call", callee_fp,
                             "--hold", "1")
            rc, evs, err = events(caller)
        else:
            rc, evs, err = None, [], "not called: the callee did not register at relay B"
        lrc, levs, lerr = events(listener, timeout=40 if registered else 1)
    finally:
        stop_procs(lab, list(relays.values()))
    path = first(evs, "path")
    lpath = first(levs, "path")
    setup = first(evs, "setup")
    candidates = [f"{e.get('kind')} {e.get('addr')} {e.get('result')}" for e in evs
                  if e.get("event") == "candidate"]
    detail = (f"caller (at A) path {path and path.get('kind')} via {path and path.get('remote')} "
              f"in {path and path.get('ms')} ms; callee (at B) path {lpath and lpath.get('kind')} "
              f"via {lpath and lpath.get('remote')}; caller's setup {setup}; "
              f"candidates: {', '.join(candidates)}")
    ok = (rc == 0 and path is not None and lpath is not None and
          path.get("kind") == expect_kind and lpath.get("kind") == expect_kind)
    if ok and expect_kind == "relay":
        # Each party on its own relay's pipe, and both relays logged the call's bridge as
        # joined: the bytes went caller -> relay A -> bridge -> relay B -> callee.
        call_id = path.get("call_id")
        bridged = [any(f"Call {call_id}: bridge " in line and line.rstrip().endswith(": joined")
                       for line in open(logs[k])) for k in ("A", "B")]
        detail += f"; bridge joined at relay A {bridged[0]}, at relay B {bridged[1]}"
        ok = ((path.get("remote") or "").startswith("203.0.113.10:") and
              (lpath.get("remote") or "").startswith("203.0.113.20:") and all(bridged))
    if not ok:
        detail += (f"; caller rc={rc} stderr={err.strip()[-300:]} callee rc={lrc} "
                   f"{lerr.strip()[-300:]}; relay A log: {open(logs['A']).read()[-600:]}; "
                   f"relay B log: {open(logs['B']).read()[-600:]}")
    tap(ok, f"{name}: {caller_host} at relay A -> {callee_host} at relay B is {expect_kind}",
        detail)
    for e in evs:   # the caller's timeline, for the log
        print("#   " + json.dumps(e), flush=True)


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

    with lock.held():
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
            # Federated: the same LAN behind the non-hairpinning nat1, one user at each relay.
            # Without global IPv6: a same-LAN global address connects as fast as the private
            # ones (and counts as direct-internet), so it would win some races and hide
            # whether the host candidates crossed the federation link at all.
            flush_ipv6(lab, "lan1a", "lan1b", "lan2a")
            federated_call_case(lab, "federated-same-lan", "lan1a", "lan1b", "direct-lan")
            call_case(lab, "cone-nats-ipv4", relay_a, "lan1a", "lan2a", "direct-internet",
                      reflector=relay_b)
            fallback_case(lab, "fallback", relay_a, relay_b)
            voice_case(lab, "voice-cone", relay_a, "direct-internet", reflector=relay_b)
            voice_case(lab, "voice-relay", relay_a, "relay", caller_args=("--privacy",),
                       reflector=relay_b)
            voice_case(lab, "voice-fallback", relay_a, "direct-internet", reflector=relay_b,
                       damage=lambda: block_direct(lab, "wzpvoice"),
                       repair=lambda: lab.run("exec", "nat2", "--", "nft", "delete", "table",
                                              "inet", "wzpvoice"))
            nat_flush_case(lab, "nat-flush", relay_a, relay_b)
            address_change_case(lab, "address-change", relay_a, relay_b)
            address_change_case(lab, "address-change-callee", relay_a, relay_b, host="lan2a",
                                old="10.0.2.21", new="10.0.2.31", gateway="10.0.2.1")
            delayed_direct_case(lab, "delayed-direct", relay_a, relay_b)
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
            # Federated, symmetric NATs: the relay path, bridged between relay A and B.
            federated_call_case(lab, "federated-symmetric", "lan1a", "lan2a", "relay")
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
