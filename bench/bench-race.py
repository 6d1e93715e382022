#!/usr/bin/python3
# bench-race.py: the path race (docs/decisions.md, "Set-up time") against libnice ICE in the
# project's network lab, tests/netlab (bench/README.md, "Race"). Run it through
# bench/run-race-bench.sh, which builds and takes the lab lock; it needs root.
#
# --lab new (the default) runs in tests/netlab/netlab; --lab NAME:PATH in another lab with
# the same commands and plan. Given twice or more, the whole benchmark runs in each lab in
# turn, under the one lock, and a last table compares the paths and times. --build NAME:DIR,
# given twice or more, does the same for builds of two commits in the one lab (the first is
# the baseline).
#
# Cases (each with and without added WAN delay):
#   same-lan   lan1a -> lan1b                     cone NATs
#   cross-nat  lan1a -> lan2a, IPv4 only          cone NATs (global IPv6 flushed)
#   symmetric  lan1a -> lan2a, IPv4 only          symmetric NATs: ours goes through the relay
#
# Ours: bench-race-wzp (a WzpClient that stays registered) places --calls calls in a row;
# t0 = the later of the two CallSetup receipts, t1 = the caller receives NominateAck.
# libnice: bench-race-nice, two agents (one per namespace) per trial exchanging SDP through
# a rendezvous in relayA's namespace; STUN from coturn (stun-only) in relayA;
# t0 = both agents hold the remote candidates, t1 = both READY; first media each way.
#
# Subcommands used inside the lab's namespaces: `rendezvous` and `ping`. The added WAN delay
# is the lab's (`netlab wan --delay-ms`).
#
# SPDX-License-Identifier: GPL-3.0-or-later

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NETLAB = os.path.join(ROOT, "tests", "netlab", "netlab")
sys.path.insert(0, os.path.dirname(NETLAB))
from wzplab import procs  # noqa: E402  (ending what the benchmark started, by PID)

RELAY_A = "203.0.113.10"
RELAY_B = "203.0.113.20"
RENDEZVOUS_PORT = 7000
STUN_PORT = 3478

# (name, nat mode, caller host, callee host, host whose address gives the peer RTT,
#  hosts whose global IPv6 is flushed)
CASES = {
    "same-lan": ("cone", "lan1a", "lan1b", "192.168.88.22", ()),
    "cross-nat": ("cone", "lan1a", "lan2a", "198.51.100.2", ("lan1a", "lan2a")),
    "symmetric": ("symmetric", "lan1a", "lan2a", RELAY_A, ("lan1a", "lan2a")),
}
# Targets from issue 6 (medians, ms): without delay per case; with delay 3 RTT + 5 ms for
# direct paths.
TARGET_NO_DELAY = {"same-lan": 5.0, "cross-nat": 30.0, "symmetric": 50.0}


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- in-namespace helpers

async def _rendezvous(listen):
    host, port = listen.rsplit(":", 1)
    waiting = {}

    async def pump(reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                writer.write(line)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def handle(reader, writer):
        hello = await reader.readline()
        parts = hello.decode(errors="replace").split()
        if len(parts) != 2 or parts[0] != "HELLO":
            writer.close()
            return
        name = parts[1]
        if name not in waiting:
            fut = asyncio.get_running_loop().create_future()
            waiting[name] = (reader, writer, fut)
            await fut
            return
        peer_reader, peer_writer, fut = waiting.pop(name)
        await asyncio.gather(pump(reader, peer_writer), pump(peer_reader, writer))
        fut.set_result(None)

    server = await asyncio.start_server(handle, host, int(port))
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


def cmd_rendezvous(args):
    asyncio.run(_rendezvous(args.listen))


def _checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def cmd_ping(args):
    # ICMP echo over a raw socket (no ping binary here); prints the median RTT in ms.
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.settimeout(1.0)
    ident = os.getpid() & 0xFFFF
    rtts = []
    for seq in range(args.count):
        header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        payload = b"wzp-bench-race"
        packet = struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, seq) + payload
        start = time.monotonic()
        sock.sendto(packet, (args.address, 0))
        while True:
            try:
                data, _ = sock.recvfrom(2048)
            except socket.timeout:
                break
            ihl = (data[0] & 0x0F) * 4
            typ, _, _, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
            if typ == 0 and rid == ident and rseq == seq:
                rtts.append((time.monotonic() - start) * 1000)
                break
        time.sleep(0.05)
    print(json.dumps({"address": args.address, "rtts": rtts,
                      "median_ms": statistics.median(rtts) if rtts else None}))


# ---------------------------------------------------------------- the lab

class Lab:
    def __init__(self, tmp, build, name="new", netlab=NETLAB):
        self.tmp = tmp
        self.build = build
        self.name = name
        self.netlab = netlab
        self.procs = []
        self.delay = 0
        self.wan_ns = None

    def run(self, *args, timeout=60, check=False):
        r = subprocess.run([self.netlab, *args], capture_output=True, text=True,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"netlab {' '.join(args)}: {r.stderr.strip()}")
        return r

    def env(self, name):
        home = os.path.join(self.tmp, "home", name)
        os.makedirs(home, exist_ok=True)
        env = dict(os.environ)
        env.update({"HOME": home, "XDG_DATA_HOME": os.path.join(home, "data"),
                    "XDG_CONFIG_HOME": os.path.join(home, "config"),
                    "G_DEBUG": "", "G_MESSAGES_DEBUG": "", "GIO_USE_PROXY_RESOLVER": "dummy"})
        return env

    def spawn(self, host, name, *cmd, stdout=subprocess.PIPE):
        p = subprocess.Popen([self.netlab, "exec", host, "--", *cmd], stdout=stdout,
                             stderr=open(os.path.join(self.tmp, f"{name}.stderr"), "w"),
                             text=True, env=self.env(name))
        self.procs.append(p)
        return p

    def stop(self, p):
        procs.stop(p)

    def stop_all(self):
        for p in self.procs:
            self.stop(p)
        self.procs = []

    def start_relay(self, host, name, address):
        relay = os.path.join(self.build, "wzp-relay", "wzp-relay")
        identity = os.path.join(self.tmp, f"{name}.pem")
        p = self.spawn(host, name, relay, "--listen", "0.0.0.0:4433", "--identity", identity)
        line = p.stdout.readline().strip()
        if not line.startswith("wzps://"):
            raise RuntimeError(f"relay in {host} did not start: {line}")
        return f"wzps://{address}:4433#{line.split('#', 1)[1]}"

    def start_stun(self):
        pidfile = os.path.join(self.tmp, "turnserver.pid")
        logfile = os.path.join(self.tmp, "turnserver.log")
        p = self.spawn("relayA", "turnserver", "turnserver", "-n", "--stun-only",
                       "--listening-ip", RELAY_A, "--listening-port", str(STUN_PORT),
                       "--no-tcp", "--no-tls", "--no-dtls", "--no-cli", "--no-stdout-log",
                       "--simple-log", "--log-file", logfile, "--pidfile", pidfile,
                       stdout=subprocess.DEVNULL)
        time.sleep(0.5)
        if p.poll() is not None:
            raise RuntimeError("turnserver did not start (see its log)")
        return p

    def start_rendezvous(self):
        p = self.spawn("relayA", "rendezvous", sys.executable, os.path.abspath(__file__),
                       "rendezvous", "--listen", f"{RELAY_A}:{RENDEZVOUS_PORT}")
        if p.stdout.readline().strip() != "listening":
            raise RuntimeError("the rendezvous did not start")
        return p

    def flush_ipv6(self, *hosts):
        for host in hosts:
            self.run("exec", host, "--", "ip", "-6", "addr", "flush", "dev", "eth0", "scope",
                     "global")

    def set_delay(self, rtt_ms):
        # The lab's WAN delay (tests/netlab/wzplab/wan.py): half of rtt_ms on every packet
        # the WAN router passes on, so every path across the "internet" (site <-> site,
        # site <-> relay) gets rtt_ms more round-trip time; LANs are untouched. Another lab
        # with the same plan borrows this lab's shaper for its own WAN router.
        if self.wan_ns is None:
            r = self.run("exec", "wan", "--", "ip", "netns", "identify", check=True)
            self.wan_ns = r.stdout.strip()
        where = ["--namespace", self.wan_ns]
        if rtt_ms:
            r = subprocess.run([NETLAB, "wan", *where, "--delay-ms", f"{rtt_ms / 2:g}"],
                               capture_output=True, text=True, timeout=60)
        else:
            r = subprocess.run([NETLAB, "wan", *where, "--off"], capture_output=True, text=True,
                               timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"netlab wan: {r.stderr.strip()}")
        self.delay = rtt_ms

    def ping(self, host, address, count=10):
        r = self.run("exec", host, "--", sys.executable, os.path.abspath(__file__), "ping",
                     address, "--count", str(count))
        try:
            return json.loads(r.stdout)["median_ms"]
        except (ValueError, KeyError):
            return None


def read_json_lines(text):
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def percentile(values, q):
    if not values:
        return None
    v = sorted(values)
    if len(v) == 1:
        return v[0]
    pos = (len(v) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


# ---------------------------------------------------------------- ours

def run_ours(lab, relay_a, relay_b, case, tag, calls, hold_ms, gap_ms, fresh):
    _, caller_host, callee_host = CASES[case][0], CASES[case][1], CASES[case][2]
    binary = os.path.join(lab.build, "bench", "bench-race-wzp")
    common = ["--relay", relay_a, "--reflector", relay_b, "--calls", str(calls)]
    # Events go to files: a pipe nobody reads while the other side runs would fill up and
    # block the writer.
    callee_out = os.path.join(lab.tmp, f"{tag}-wzp-callee.out")
    caller_out = os.path.join(lab.tmp, f"{tag}-wzp-caller.out")
    callee = lab.spawn(callee_host, f"{tag}-wzp-callee", binary, *common, "--identity",
                       os.path.join(lab.tmp, f"{tag}-callee.pem"), "listen",
                       stdout=open(callee_out, "w"))
    ready = None
    deadline = time.monotonic() + 20
    while ready is None and time.monotonic() < deadline and callee.poll() is None:
        time.sleep(0.05)
        with open(callee_out) as f:
            ready = next((e for e in read_json_lines(f.read()) if e.get("event") == "ready"),
                         None)
    if ready is None:
        lab.stop(callee)
        raise RuntimeError(f"{tag}: the callee did not get ready")
    caller = lab.spawn(caller_host, f"{tag}-wzp-caller", binary, *common, "--identity",
                       os.path.join(lab.tmp, f"{tag}-caller.pem"), "--hold-ms", str(hold_ms),
                       "--gap-ms", str(gap_ms), *(["--fresh"] if fresh else []), "call",
                       ready["fingerprint"], stdout=open(caller_out, "w"))
    try:
        caller.wait(timeout=30 + calls * 12)
    except subprocess.TimeoutExpired:
        lab.stop(caller)
    try:
        callee.wait(timeout=10)
    except subprocess.TimeoutExpired:
        lab.stop(callee)
    with open(caller_out) as f:
        out = f.read()
    with open(callee_out) as f:
        callee_text = f.read()
    caller_ev = read_json_lines(out)
    callee_ev = read_json_lines(callee_text)
    with open(os.path.join(lab.tmp, f"{tag}-wzp.jsonl"), "w") as f:
        for e in caller_ev:
            f.write(json.dumps({"side": "caller", **e}) + "\n")
        for e in callee_ev:
            f.write(json.dumps({"side": "callee", **e}) + "\n")

    calls_by_id = {}
    for side, evs in (("caller", caller_ev), ("callee", callee_ev)):
        for e in evs:
            cid = e.get("call_id")
            if cid is None:
                continue
            c = calls_by_id.setdefault(cid, {"caller": {"cands": []}, "callee": {"cands": []}})
            s = c[side]
            kind = e["event"]
            if kind == "setup":
                s["setup"] = e["mono_us"]
            elif kind == "path":
                # The first path is t1 (the caller's NominateAck); the last one is where the
                # side ended: a superseded nomination can move the callee twice.
                s["n_paths"] = s.get("n_paths", 0) + 1
                s["last_kind"] = e["kind"]
                if e.get("first"):
                    s["path"] = e["mono_us"]
                    s["kind"] = e["kind"]
                    s["remote"] = e["remote"]
            elif kind == "candidate":
                s["cands"].append(e)
            elif kind == "ended":
                s["ended"] = e["reason"]
                s["index"] = e.get("index")
    placing = [e for e in caller_ev if e.get("event") == "placing"]
    done = [e for e in caller_ev if e.get("event") == "done"]
    records = []
    for cid, c in calls_by_id.items():
        a, b = c["caller"], c["callee"]
        rec = {"call_id": cid, "index": a.get("index"), "ok": False,
               "kind": a.get("last_kind"), "callee_kind": b.get("last_kind"),
               "switched": a.get("n_paths", 0) > 1 or b.get("n_paths", 0) > 1,
               "ended": a.get("ended"), "cands": a["cands"], "callee_cands": b["cands"]}
        if "setup" in a and "setup" in b and "path" in a:
            t0 = max(a["setup"], b["setup"])
            rec.update(ok=True, ms=(a["path"] - t0) / 1000.0,
                       skew_ms=(a["setup"] - b["setup"]) / 1000.0,
                       caller_path_ms=(a["path"] - a["setup"]) / 1000.0)
            oks = [x for x in a["cands"] if x["result"] == "ok"]
            if oks:
                rec["first_ok_ms"] = min(x["ms"] for x in oks)
        records.append(rec)
    records.sort(key=lambda r: (r["index"] is None, r["index"]))
    fds = [e.get("fds") for e in placing]
    return {"records": records, "ready": ready, "fds_first": fds[1] if len(fds) > 1 else None,
            "fds_last": done[0].get("fds") if done else None, "n_placed": len(placing)}


def summarize_ours(res, case):
    recs = res["records"]
    ok = [r for r in recs if r["ok"]]
    ms = [r["ms"] for r in ok]
    kinds = {}
    for r in ok:
        key = r["kind"] if r["kind"] == r["callee_kind"] else f"{r['kind']}!={r['callee_kind']}"
        kinds[key] = kinds.get(key, 0) + 1
    relay_opened = [r for r in ok if any(c["kind"] == "relay" for c in r["cands"])]
    head_start_hits = [r for r in relay_opened
                       if min(c["ms"] for c in r["cands"] if c["kind"] == "relay") >= 240]
    outcomes = {}
    for r in ok:
        for c in r["cands"]:
            k = f"{c['kind']}:{c['result']}"
            outcomes[k] = outcomes.get(k, 0) + 1
    return {
        "n": len(recs), "n_ok": len(ok), "median": percentile(ms, 0.5),
        "p95": percentile(ms, 0.95), "min": min(ms) if ms else None,
        "max": max(ms) if ms else None, "kinds": kinds,
        "relay_opened": len(relay_opened), "head_start_hits": len(head_start_hits),
        "switched": len([r for r in ok if r["switched"]]),
        "skew_median": percentile([abs(r["skew_ms"]) for r in ok], 0.5),
        "first_ok_median": percentile([r["first_ok_ms"] for r in ok if "first_ok_ms" in r], 0.5),
        "caller_path_median": percentile([r["caller_path_ms"] for r in ok], 0.5),
        "outcomes": outcomes, "fds_first": res["fds_first"], "fds_last": res["fds_last"],
        "nat": res["ready"].get("nat"),
        "failures": [f"#{r['index']}: {r['ended']}" for r in recs if not r["ok"]][:5],
    }


# ---------------------------------------------------------------- libnice

def run_nice(lab, case, tag, trials, parallel, timeout_s):
    _, caller_host, callee_host = CASES[case][0], CASES[case][1], CASES[case][2]
    binary = os.path.join(lab.build, "bench", "bench-race-nice")
    common = ["--rendezvous", f"{RELAY_A}:{RENDEZVOUS_PORT}", "--session", tag,
              "--stun", f"{RELAY_A}:{STUN_PORT}", "--trials", str(trials),
              "--parallel", str(parallel), "--timeout-s", str(timeout_s)]
    files = {name: os.path.join(lab.tmp, f"{tag}-nice-{name}.out") for name in ("caller", "callee")}
    callee = lab.spawn(callee_host, f"{tag}-nice-callee", binary, "--role", "callee", *common,
                       stdout=open(files["callee"], "w"))
    caller = lab.spawn(caller_host, f"{tag}-nice-caller", binary, "--role", "caller", *common,
                       stdout=open(files["caller"], "w"))
    limit = time.monotonic() + 30 + (trials / parallel + 1) * (timeout_s + 3)
    outs = {}
    for name, p in (("caller", caller), ("callee", callee)):
        try:
            p.wait(timeout=max(1.0, limit - time.monotonic()))
        except subprocess.TimeoutExpired:
            lab.stop(p)
        with open(files[name]) as f:
            outs[name] = f.read()
    by_trial = {}
    with open(os.path.join(lab.tmp, f"{tag}-nice.jsonl"), "w") as f:
        for name in ("caller", "callee"):
            for e in read_json_lines(outs[name]):
                f.write(json.dumps(e) + "\n")
                by_trial.setdefault(e["trial"], {})[name] = e
    records = []
    for i, t in sorted(by_trial.items()):
        a, b = t.get("caller"), t.get("callee")
        if a is None or b is None or not a.get("have_us") or not b.get("have_us"):
            records.append({"trial": i, "ok": False})
            continue
        t0 = max(a["have_us"], b["have_us"])

        def rel(x):
            return (x - t0) / 1000.0 if x else None
        rec = {"trial": i, "ok": True, "pair": a.get("pair")}
        if a.get("ready_us") and b.get("ready_us"):
            rec["ready"] = rel(max(a["ready_us"], b["ready_us"]))
        if a.get("connected_us") and b.get("connected_us"):
            rec["connected"] = rel(max(a["connected_us"], b["connected_us"]))
        rec["media_ab"] = rel(b.get("first_rx_us"))   # caller -> callee
        rec["media_ba"] = rel(a.get("first_rx_us"))   # callee -> caller
        if rec["media_ab"] is not None and rec["media_ba"] is not None:
            rec["media_both"] = max(rec["media_ab"], rec["media_ba"])
        rec["failed"] = bool(a.get("failed_us") or b.get("failed_us"))
        if rec["failed"]:
            rec["failed_at"] = rel(max(x for x in (a.get("failed_us"), b.get("failed_us")) if x))
        rec["timeout"] = bool(a.get("timeout") or b.get("timeout"))
        records.append(rec)
    return records


def summarize_nice(records):
    ok = [r for r in records if r["ok"]]

    def col(key):
        return [r[key] for r in ok if r.get(key) is not None]
    ready, ab, ba, both = col("ready"), col("media_ab"), col("media_ba"), col("media_both")
    pairs = {}
    for r in ok:
        p = r.get("pair") or ""
        key = " -> ".join(x.split()[0] for x in p.split(" -> ")) if p else "none"
        pairs[key] = pairs.get(key, 0) + 1
    return {
        "n": len(records), "n_ready": len(ready), "n_media": len(both),
        "n_failed": sum(1 for r in ok if r.get("failed")),
        "n_timeout": sum(1 for r in ok if r.get("timeout")),
        "ready_median": percentile(ready, 0.5), "ready_p95": percentile(ready, 0.95),
        "connected_median": percentile(col("connected"), 0.5),
        "ab_median": percentile(ab, 0.5), "ab_p95": percentile(ab, 0.95),
        "ba_median": percentile(ba, 0.5), "ba_p95": percentile(ba, 0.95),
        "both_median": percentile(both, 0.5), "both_p95": percentile(both, 0.95),
        "failed_median": percentile(col("failed_at"), 0.5), "pairs": pairs,
    }


# ---------------------------------------------------------------- report

def fmt(x, digits=1):
    return "-" if x is None else f"{x:.{digits}f}"


def target_for(case, delay, rtt):
    if delay == 0:
        return TARGET_NO_DELAY[case], f"<= {TARGET_NO_DELAY[case]:g} ms"
    if case == "symmetric":
        return None, "none (relay)"
    return 3 * rtt + 5, f"<= 3 RTT + 5 = {3 * rtt + 5:.1f} ms"


def kinds_text(o):
    text = ", ".join(f"{k} {v}" for k, v in sorted(o["kinds"].items())) or "none"
    if o["n_ok"] < o["n"]:
        text += f", {o['n'] - o['n_ok']} failed"
    return text


def met_text(o, case, delay, rtt):
    tval, ttext = target_for(case, delay, rtt if rtt else 0.0)
    met = "-" if tval is None or o["median"] is None else (
        "met" if o["median"] <= tval else "NOT met")
    return ttext, met


def ours_detail(label, o):
    return [
        f"    {label}: n={o['n']} ok={o['n_ok']} min/max {fmt(o['min'])}/{fmt(o['max'])} ms; "
        f"NAT seen {o['nat']}; CallSetup skew median {fmt(o['skew_median'], 2)} ms; caller "
        f"(from its own CallSetup): first authenticated path median "
        f"{fmt(o['first_ok_median'])} ms, NominateAck {fmt(o['caller_path_median'])} ms; relay "
        f"pipe opened in {o['relay_opened']} calls ({o['head_start_hits']} at the 250 ms head "
        f"start); open fds before the 2nd call / at the end {o['fds_first']} / {o['fds_last']}; "
        f"a side switched paths before the end in {o['switched']} calls",
        "      caller's candidate outcomes: " +
        ", ".join(f"{k} {v}" for k, v in sorted(o["outcomes"].items())),
    ] + (["      failures: " + "; ".join(o["failures"])] if o["failures"] else [])


def report(results, args):
    lines = []
    head = (f"{'case':<10} {'WAN+':>5} {'RTT':>6} | {'ours med/p95 ms':>15} {'in RTT':>9} "
            f"{'ours path':<22} | {'nice READY med/p95':>18} {'1st media A>B/B>A':>17} | "
            f"{'READY/ours':>10} {'media/ours':>10} | target: met")
    lines.append(head)
    lines.append("-" * len(head))
    for r in results:
        o, n, rtt = r["ours"], r["nice"], r["rtt"]
        ttext, met = met_text(o, r["case"], r["delay"], rtt)
        in_rtt = "-"
        if rtt and rtt >= 1.0 and o["median"] is not None:
            in_rtt = f"{o['median'] / rtt:.1f}/{o['p95'] / rtt:.1f}"
        if n["n_ready"]:
            ready = f"{fmt(n['ready_median'])}/{fmt(n['ready_p95'])}"
        else:
            ready = f"never ({n['n_failed']} FAIL)"
        media = f"{fmt(n['ab_median'])}/{fmt(n['ba_median'])}" if n["n_media"] else "none"
        r_ready = (f"{n['ready_median'] / o['median']:.1f}x"
                   if n["ready_median"] and o["median"] else "-")
        r_media = (f"{n['both_median'] / o['median']:.1f}x"
                   if n["both_median"] and o["median"] else "-")
        lines.append(f"{r['case']:<10} {r['delay']:>3}ms {fmt(rtt, 2):>6} | "
                     f"{fmt(o['median']) + '/' + fmt(o['p95']):>15} {in_rtt:>9} "
                     f"{kinds_text(o):<22} | {ready:>18} {media:>17} | "
                     f"{r_ready:>10} {r_media:>10} | {ttext}: {met}")
    if any(r.get("redial") for r in results):
        lines.append("")
        head2 = (f"{'redial':<10} {'WAN+':>5} {'RTT':>6} | {'ours med/p95 ms':>15} "
                 f"{'ours path':<30} {'relay at 250ms':>14} | target: met")
        lines.append(head2)
        lines.append("-" * len(head2))
        for r in results:
            o = r.get("redial")
            if not o:
                continue
            ttext, met = met_text(o, r["case"], r["delay"], r["rtt"])
            lines.append(f"{r['case']:<10} {r['delay']:>3}ms {fmt(r['rtt'], 2):>6} | "
                         f"{fmt(o['median']) + '/' + fmt(o['p95']):>15} {kinds_text(o):<30} "
                         f"{o['head_start_hits']:>14} | {ttext}: {met}")
    lines.append("")
    lines.append("RTT: ICMP echo median from the caller's namespace to the peer (same-lan: lan1b; "
                 "cross-nat: nat2's WAN address; symmetric: relay A), ms. in RTT: ours / RTT.")
    lines.append("WAN+: RTT added to every path across the WAN router (half of it each way, in "
                 "an NFQUEUE of the router: this kernel has no sch_netem).")
    lines.append(f"ours: t0 = the later CallSetup receipt, t1 = the caller has NominateAck; "
                 f"{args.calls} calls, each from a new caller client (a new port P). redial: "
                 f"{args.redial_calls} calls back to back between the same two clients. "
                 f"ours path: the path each side ended on (caller!=callee if they differ).")
    lines.append(f"libnice {args.nice_trials} trials: t0 = both agents hold the remote "
                 "candidates, READY = both READY, media = first datagram received; A = lan1a "
                 "(controlling), B = the callee. Ratios: libnice median / ours median (media: "
                 "the later of the two directions).")
    lines.append("")
    lines.append("Details:")
    for r in results:
        o, n = r["ours"], r["nice"]
        lines.append(f"  {r['case']} +{r['delay']} ms (load average {r['load']:.2f} on "
                     f"{os.cpu_count()} CPUs; libnice {r['nice_parallel']} at a time):")
        lines += ours_detail("ours, new P per call", o)
        if r.get("redial"):
            lines += ours_detail("ours, redial", r["redial"])
        lines.append(
            f"    libnice: n={n['n']} READY {n['n_ready']} FAILED {n['n_failed']} timeout "
            f"{n['n_timeout']}; CONNECTED median {fmt(n['connected_median'])} ms; media A>B "
            f"p95 {fmt(n['ab_p95'])}, B>A p95 {fmt(n['ba_p95'])}, both ways median/p95 "
            f"{fmt(n['both_median'])}/{fmt(n['both_p95'])} ms; FAILED after median "
            f"{fmt(n['failed_median'])} ms; selected pairs {n['pairs']}")
    return "\n".join(lines)


def close_enough(a, b):
    """Within 10% of the larger, or 2 ms."""
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= max(2.0, 0.1 * max(a, b))


def compare(runs):
    """Each case in the first lab against the same case in the others: the same paths, and
    the medians within 10% or 2 ms."""
    (first, base), others = runs[0], runs[1:]
    lines = [f"Comparison: {first} against {', '.join(n for n, _ in others)} (paths equal; "
             f"medians within 10% or 2 ms)", ""]
    head = (f"{'case':<10} {'WAN+':>5} {'lab':<5} {'RTT':>6} | {'ours path':<22} "
            f"{'ours med':>8} {'redial':>8} | {'nice READY':>10} | same")
    lines += [head, "-" * len(head)]
    all_ok = True
    for i, r0 in enumerate(base):
        for name, results in [(first, base)] + others:
            r = results[i] if i < len(results) else None
            if r is None:
                lines.append(f"{r0['case']:<10} {r0['delay']:>3}ms {name:<5} missing")
                all_ok = False
                continue
            o, rd, n = r["ours"], r.get("redial") or {}, r["nice"]
            verdict = ""
            if name != first:
                b, bd = r0["ours"], r0.get("redial") or {}
                paths = (o["kinds"] == b["kinds"] and rd.get("kinds") == bd.get("kinds") and
                         (n["n_ready"] > 0) == (r0["nice"]["n_ready"] > 0))
                times = (close_enough(o["median"], b["median"]) and
                         close_enough(rd.get("median"), bd.get("median")) and
                         close_enough(n["ready_median"], r0["nice"]["ready_median"]))
                all_ok = all_ok and paths and times
                verdict = ("yes" if paths and times else
                           "paths differ" if not paths else "times differ")
            lines.append(f"{r['case']:<10} {r['delay']:>3}ms {name:<5} {fmt(r['rtt'], 2):>6} | "
                         f"{kinds_text(o):<22} {fmt(o['median']):>8} {fmt(rd.get('median')):>8}"
                         f" | {fmt(n['ready_median']):>10} | {verdict}")
    lines += ["", "Same in every case: " + ("yes" if all_ok else "NO")]
    return "\n".join(lines)


# ---------------------------------------------------------------- main

def parse_labs(specs):
    """--lab values: "new" (tests/netlab/netlab) or NAME:PATH (another lab's command)."""
    labs = []
    for spec in specs or ["new"]:
        name, _, path = spec.partition(":")
        if not path and name != "new":
            raise SystemExit(f"bench-race: --lab {spec}: want new or NAME:PATH")
        labs.append((name, os.path.abspath(path) if path else NETLAB))
    if len({name for name, _ in labs}) != len(labs):
        raise SystemExit("bench-race: --lab names must differ")
    return labs


def parse_builds(specs, default):
    """--build values: NAME:DIR, each a build of the project (an older commit, say)."""
    builds = []
    for spec in specs or []:
        name, _, path = spec.partition(":")
        if not name or not path:
            raise SystemExit(f"bench-race: --build {spec}: want NAME:DIR")
        builds.append((name, os.path.abspath(path)))
    if len({name for name, _ in builds}) != len(builds):
        raise SystemExit("bench-race: --build names must differ")
    return builds or [("", os.path.abspath(default))]


def own_session(priority, name):
    """With autogroup scheduling nice only ranks tasks within a session: the run becomes a
    session of its own and raises that session's priority to PRIORITY, so that builds and
    tests of others disturb the timings less. SIGTERM and SIGHUP end the run through its
    clean-up (the lab is always taken down)."""
    def interrupted(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    if priority:
        try:
            os.setsid()
        except OSError:
            pass
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(priority))
    except OSError as e:
        log(f"{name}: could not set the autogroup priority: {e}")


def cmd_run(args):
    labs = parse_labs(args.lab)
    builds = parse_builds(args.build, args.build_dir)
    if len(labs) > 1 and len(builds) > 1:
        raise SystemExit("bench-race: compare labs or builds, not both at once")
    # One run per lab, or per build (in the one lab): (name, lab command, build directory).
    if len(builds) > 1:
        runs_spec = [(name, labs[0][1], build) for name, build in builds]
    else:
        runs_spec = [(name, netlab, builds[0][1]) for name, netlab in labs]
    if os.geteuid() != 0:
        log("bench-race: needs root (netlab)")
        return 77
    for tool in ("turnserver", "iptables-legacy", "ip6tables-legacy"):
        if shutil.which(tool) is None:
            log(f"bench-race: {tool} is missing (apt-get install coturn iptables)")
            return 1
    for _, _, build in runs_spec:
        for b in ("wzp-relay/wzp-relay", "bench/bench-race-wzp", "bench/bench-race-nice"):
            if not os.access(os.path.join(build, b), os.X_OK):
                log(f"bench-race: {b} is not built in {build}")
                return 1
    for name, netlab in labs:
        r = subprocess.run([netlab, "check"], capture_output=True, text=True)
        if r.returncode != 0:
            log(f"bench-race: lab {name} ({netlab}) unusable: {r.stdout.strip()}")
            return 77

    own_session(args.priority, "bench-race")

    tmp = tempfile.mkdtemp(prefix="wzp-bench-race-")
    started = time.monotonic()
    runs = []
    for name, netlab, build in runs_spec:
        lab = Lab(tmp if len(runs_spec) == 1 else os.path.join(tmp, name), build,
                  name or "new", netlab)
        os.makedirs(lab.tmp, exist_ok=True)
        log(f"[{time.monotonic() - started:5.0f}s] {name or 'new'}: lab {netlab}, build {build}")
        runs.append((name or "new", run_in_lab(lab, args, started)))

    texts = []
    for (name, results), (_, netlab, build) in zip(runs, runs_spec):
        text = report(results, args)
        if len(runs) > 1:
            text = f"{name} (lab {netlab}, build {build}):\n\n{text}"
        texts.append(text)
    if len(runs) > 1:
        texts.append(compare(runs))
    text = "\n\n".join(texts)
    print(text)
    with open(os.path.join(tmp, "report.txt"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(tmp, "results.json"), "w") as f:
        json.dump({name: results for name, results in runs}, f, indent=1)
    log(f"bench-race: {time.monotonic() - started:.0f} s; raw events and report in {tmp}")
    return 0


def run_in_lab(lab, args, started):
    cases = args.cases.split(",")
    delays = [int(x) for x in args.delays.split(",")]
    results = []
    try:
        lab.run("down", "--kill")
        mode = None
        relay_a = relay_b = None
        for case in sorted(cases, key=lambda c: list(CASES).index(c)):
            nat, caller_host, callee_host, rtt_addr, flush = CASES[case]
            if mode != nat:
                lab.run("up", "--nat", nat, check=True)
                mode = nat
                if relay_a is None:
                    relay_a = lab.start_relay("relayA", "relayA", RELAY_A)
                    relay_b = lab.start_relay("relayB", "relayB", RELAY_B)
                    lab.start_stun()
                    lab.start_rendezvous()
            lab.flush_ipv6(*flush)
            for delay in delays:
                lab.set_delay(delay)
                lab.run("flush")   # fresh NAT mappings for each run
                tag = f"{case}-{delay}"
                rtt = lab.ping(caller_host, rtt_addr)
                with open("/proc/loadavg") as f:
                    load = float(f.read().split()[0])
                log(f"[{time.monotonic() - started:5.0f}s] {lab.name} {tag}: RTT "
                    f"{fmt(rtt, 2)} ms; ours, {args.calls} calls, a new caller client (port P) for each")
                so = summarize_ours(run_ours(lab, relay_a, relay_b, case, tag + "-fresh",
                                             args.calls, args.hold_ms, args.gap_ms, True), case)
                log(f"    ours median {fmt(so['median'])} p95 {fmt(so['p95'])} ms, paths "
                    f"{so['kinds']}, head start hit {so['head_start_hits']}")
                sr = None
                if args.redial_calls:
                    lab.run("flush")
                    log(f"[{time.monotonic() - started:5.0f}s] {tag}: ours, {args.redial_calls} "
                        f"calls back to back between the same two clients (redial)")
                    sr = summarize_ours(run_ours(lab, relay_a, relay_b, case, tag + "-redial",
                                                 args.redial_calls, args.hold_ms, args.gap_ms,
                                                 False), case)
                    log(f"    ours median {fmt(sr['median'])} p95 {fmt(sr['p95'])} ms, paths "
                        f"{sr['kinds']}, head start hit {sr['head_start_hits']}")
                parallel = {"same-lan": 1, "cross-nat": args.nice_parallel,
                            "symmetric": args.nice_parallel_symmetric}[case]
                log(f"[{time.monotonic() - started:5.0f}s] {tag}: libnice, {args.nice_trials} "
                    f"trials, {parallel} at a time")
                lab.run("flush")
                nice = run_nice(lab, case, tag, args.nice_trials, parallel, args.nice_timeout)
                sn = summarize_nice(nice)
                log(f"    libnice READY median {fmt(sn['ready_median'])} ms ({sn['n_ready']} "
                    f"ready, {sn['n_failed']} failed), media both median "
                    f"{fmt(sn['both_median'])} ms")
                results.append({"case": case, "delay": delay, "rtt": rtt, "ours": so,
                                "redial": sr, "nice": sn, "load": load,
                                "nice_parallel": parallel})
            lab.set_delay(0)
    finally:
        try:
            lab.set_delay(0)
        except Exception:  # the lab may be gone already
            pass
        lab.stop_all()
        lab.run("down", "--kill")

    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("run", help="the benchmark (default)")
    p.add_argument("--build-dir", default=os.path.join(ROOT, "build-race"))
    p.add_argument("--build", action="append", metavar="NAME:DIR",
                   help="a build to run, given twice or more: each runs the whole benchmark "
                        "in turn in the one lab, and a last table compares them (the first "
                        "is the baseline)")
    p.add_argument("--cases", default="same-lan,cross-nat,symmetric")
    p.add_argument("--delays", default="0,20", help="added WAN RTT in ms, comma-separated")
    p.add_argument("--calls", type=int, default=100,
                   help="calls per case, each from a new caller client (new port P)")
    p.add_argument("--redial-calls", type=int, default=100,
                   help="calls per case back to back between the same two clients (0: none)")
    p.add_argument("--hold-ms", type=int, default=30)
    p.add_argument("--gap-ms", type=int, default=60)
    p.add_argument("--nice-trials", type=int, default=100)
    p.add_argument("--priority", type=int, default=-10,
                   help="nice value of the run's session (autogroup)")
    p.add_argument("--nice-parallel", type=int, default=10,
                   help="libnice sessions at a time across NATs (same-lan: 1)")
    p.add_argument("--nice-parallel-symmetric", type=int, default=25,
                   help="libnice sessions at a time with symmetric NATs (each fails after ~7 s)")
    p.add_argument("--nice-timeout", type=int, default=15)
    p.add_argument("--lab", action="append", metavar="new|NAME:PATH",
                   help="the lab to run in (default: new, tests/netlab/netlab); given twice "
                        "or more, each in turn and a comparison")
    p = sub.add_parser("rendezvous")
    p.add_argument("--listen", required=True)
    p = sub.add_parser("ping")
    p.add_argument("address")
    p.add_argument("--count", type=int, default=10)
    argv = sys.argv[1:]
    if not argv or argv[0].startswith("-"):
        argv = ["run", *argv]
    args = parser.parse_args(argv)
    if args.command == "rendezvous":
        cmd_rendezvous(args)
        return 0
    if args.command == "ping":
        cmd_ping(args)
        return 0
    return cmd_run(args)


if __name__ == "__main__":
    sys.exit(main())
