#!/usr/bin/python3
# bench-voice.py: voice in calls, in the project's network lab (tests/netlab), against RTP
# over UDP with the same Opus settings (bench/README.md, "Voice"; issue 18, item 7). It
# needs root and takes the lab's lock for its whole run:
#
#   setsid bench/bench-voice.py run [--build-dir DIR] [--quick | --long] ...
#
# lan1a (A, the caller) calls lan2a (B) across cone NATs, on the direct path, or on the
# relay path (the caller in --privacy), with WAN one-way delay 0 and +20 ms and random loss
# of 0, 1 and 5% of the packets on the WAN (the lab's NFQUEUE shaper, tests/netlab/wzplab/
# shaper.py: the real kernel TCP of both hosts retransmits). Both sides send speech with a
# marker chirp every 500 ms (voicemetrics.py), as a microphone would: the file in 10 ms
# blocks, each released at its end; both record what they play. wzp-cli's "audio" event
# says where each side's pipelines have their running time 0 on CLOCK_MONOTONIC, which
# every process shares, so a chirp's mouth-to-ear latency is the receiver's render time
# minus the sender's capture time.
#
# The baseline, in the same run and conditions: the same two hosts, the same sound
# processing (webrtcdsp, as ours) and Opus settings (voice, 20 ms, 32 kb/s CBR, no DTX, no
# FEC), as RTP over UDP (`rtp` below: rtpopuspay ! udpsink; udpsrc ! rtpjitterbuffer
# latency=L do-lost=true ! rtpopusdepay ! opusdec plc=true), L being the median playout
# delay ours chose in that condition. Direct: both hosts send to each other's NAT address
# from port 5004 for a second first, which opens both cone NATs (they keep the port).
# Relay: both send to a UDP forwarder on relay A (`udp-relay`), as a TURN relay would.
#
# Subcommands used inside the lab: `rtp` (a baseline endpoint) and `udp-relay`. `analyze
# DIR` prints the report of a finished run again from its files.
#
# SPDX-License-Identifier: GPL-3.0-or-later

import os
import sys

try:
    import numpy  # noqa: F401  (the analysis; Debian's python3-numpy is /usr/bin/python3's)
except ImportError:
    if sys.executable != "/usr/bin/python3" and os.access("/usr/bin/python3", os.X_OK):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    raise

import argparse
import importlib.util
import json
import select
import shutil
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NETLAB = os.path.join(ROOT, "tests", "netlab", "netlab")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(NETLAB))
import voicemetrics as vm  # noqa: E402
from wzplab import lock  # noqa: E402

# The race benchmark's lab driver (relays, processes in namespaces, their environment).
_spec = importlib.util.spec_from_file_location("bench_race", os.path.join(HERE, "bench-race.py"))
race = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(race)

RELAY_A, RELAY_B = race.RELAY_A, race.RELAY_B
NAT_WAN = {"lan1a": "198.51.100.1", "lan2a": "198.51.100.2"}
RTP_PORT = 5004
UDP_RELAY_PORTS = {"lan1a": 6000, "lan2a": 6001}
GST_PYTHON = "/usr/bin/python3"      # python3-gi with GStreamer's introspection

# Playout and timing, as wzp-voice.c builds them (docs/voice.md, "What runs").
PCM_CAPS = "audio/x-raw,format=S16LE,rate=48000,channels=1,layout=interleaved"
DSP = ("webrtcdsp probe={probe} echo-cancel=true noise-suppression=true gain-control=true "
       "delay-agnostic=false echo-suppression-level=low")
# opusdec keeps its timestamps within a frame of a perfect timeline, as ours (docs/voice.md,
# "Echo cancellation").
DECODE = "opusdec name=dec plc=true tolerance=20000000"
OPUS = ("opusenc audio-type=voice bitrate=32000 bitrate-type=cbr frame-size=20 dtx=false "
        "inband-fec=false")
# audiorate keeps the recording on the pipeline's timeline, as a sound card's sink would
# play it: contiguous while the buffers' times stay within 40 ms of where the samples
# before them end (audiobasesink's alignment-threshold), silence before the first frame and
# in a hole beyond that. So sample k of a recording was rendered at running time k / 48000.
# (Ours stamps each unit with the time the playout thread pushed it: a thread that wakes
# late pushes two at once, which a tighter tolerance would turn into a hole and a drop.)
RATE_TOLERANCE_NS = 40_000_000
TARGETS_TEXT = ("issue 18: median <= 80 ms + the path's added one-way delay; p95 - median <= 5 ms "
                "and no growth (clean); 1% loss: median unchanged, concealed <= 4%, STOI >= "
                "0.93; 5% loss: median <= 160 ms, concealed <= 5%, STOI >= 0.88; clean: STOI "
                ">= 0.98, 0 concealed, within 10 ms of UDP; CPU <= 5% of a core per endpoint; "
                "<= 70 kb/s per direction (IPv4)")


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def source_description(wav):
    """A microphone made of a file: 10 ms blocks, each released when its last sample would
    have been spoken, so position p was at the mouth at running time p / 48000."""
    return (f'filesrc location="{wav}" ! wavparse ! audioconvert ! audioresample ! '
            f"{PCM_CAPS} ! audiobuffersplit output-buffer-duration=1/100 ! "
            f"clocksync ts-offset=10000000")


def sink_description(wav):
    return (f"audiorate name=wzp-bench-rate tolerance={RATE_TOLERANCE_NS} ! wavenc ! "
            f'filesink location="{wav}"')


def read_events(path):
    try:
        with open(path) as f:
            return race.read_json_lines(f.read())
    except OSError:
        return []


def process_name(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def cpu_ticks(pid):
    """utime + stime of a process (all its threads), in clock ticks."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


# ---------------------------------------------------------------- the lab

class Lab(race.Lab):
    def set_wan(self, delay_ms, loss, burst, seed):
        """One-way delay and loss on the WAN router (netlab wan: the NFQUEUE shaper)."""
        if delay_ms or loss:
            args = ["wan", "--delay-ms", f"{delay_ms:g}", "--loss", f"{loss:g}", "--burst",
                    f"{burst:g}", "--seed", str(seed)]
        else:
            args = ["wan", "--off"]
        self.run(*args, check=True)

    def install_counters(self, host):
        """IPv4 bytes in and out of HOST at the IP layer (nftables counters)."""
        script = "table inet wzpbench {\n"
        for chain, hook in (("tx", "output"), ("rx", "input")):
            script += (f" chain {chain} {{\n  type filter hook {hook} priority 0;\n"
                       "  meta nfproto ipv4 counter\n }\n")
        script += "}\n"
        self.run("exec", host, "--", "nft", "delete", "table", "inet", "wzpbench")
        r = subprocess.run([self.netlab, "exec", host, "--", "nft", "-f", "-"], input=script,
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"nft in {host}: {r.stderr.strip()}")

    def counters(self, host):
        r = self.run("exec", host, "--", "nft", "-j", "list", "table", "inet", "wzpbench")
        out = {}
        try:
            for item in json.loads(r.stdout)["nftables"]:
                rule = item.get("rule")
                if rule:
                    for expr in rule["expr"]:
                        if "counter" in expr:
                            out[rule["chain"]] = expr["counter"]
        except (ValueError, KeyError):
            pass
        return out

    def tcp_retransmits(self, host):
        r = self.run("exec", host, "--", "cat", "/proc/net/snmp")
        lines = [line.split() for line in r.stdout.splitlines() if line.startswith("Tcp:")]
        if len(lines) == 2 and "RetransSegs" in lines[0]:
            return int(lines[1][lines[0].index("RetransSegs")])
        return None


class Window:
    """CPU of the endpoint processes, IP bytes and TCP retransmits of their hosts between
    two marks."""

    def __init__(self, lab, pids):
        self.lab, self.pids = lab, pids      # {host: pid}
        self.marks = []

    def mark(self):
        t = time.monotonic()
        m = {"t": t, "cpu": {h: cpu_ticks(p) for h, p in self.pids.items()},
             "comm": {h: process_name(p) for h, p in self.pids.items()},
             "bytes": {h: self.lab.counters(h) for h in self.pids},
             "retrans": {h: self.lab.tcp_retransmits(h) for h in self.pids}}
        self.marks.append(m)

    def result(self):
        if len(self.marks) < 2:
            return {}
        a, b = self.marks[0], self.marks[-1]
        dt = b["t"] - a["t"]
        hz = os.sysconf("SC_CLK_TCK")
        out = {"seconds": dt, "cpu": {}, "kbps_out": {}, "kbps_in": {}, "pps_out": {},
               "retrans": {}, "processes": b["comm"]}
        for h in self.pids:
            if a["cpu"][h] is not None and b["cpu"][h] is not None:
                out["cpu"][h] = (b["cpu"][h] - a["cpu"][h]) / hz / dt * 100
            for chain, key in (("tx", "kbps_out"), ("rx", "kbps_in")):
                if chain in a["bytes"][h] and chain in b["bytes"][h]:
                    out[key][h] = ((b["bytes"][h][chain]["bytes"] - a["bytes"][h][chain]["bytes"])
                                   * 8 / dt / 1000)
            if "tx" in a["bytes"][h] and "tx" in b["bytes"][h]:
                out["pps_out"][h] = (b["bytes"][h]["tx"]["packets"] -
                                     a["bytes"][h]["tx"]["packets"]) / dt
            if a["retrans"][h] is not None and b["retrans"][h] is not None:
                out["retrans"][h] = b["retrans"][h] - a["retrans"][h]
        return out


def wait_until(t, procs=()):
    while time.monotonic() < t:
        if any(p.poll() is not None for p in procs):
            return False
        time.sleep(0.05)
    return True


# ---------------------------------------------------------------- ours

def run_ours(lab, relay_a, relay_b, cond, seconds, files, tag):
    """A calls B (wzp-cli) for SECONDS; both send and record."""
    path = cond["path"]
    cli = os.path.join(lab.build, "libwzp-glib", "tools", "wzp-cli")
    d = os.path.join(lab.tmp, tag)
    os.makedirs(d, exist_ok=True)
    common = ["--relay", relay_a, "--reflector", relay_b, "--json"]
    callee_out, caller_out = os.path.join(d, "callee.jsonl"), os.path.join(d, "caller.jsonl")
    rec = {"a2b": os.path.join(d, "a2b.wav"), "b2a": os.path.join(d, "b2a.wav")}
    callee = lab.spawn("lan2a", f"{tag}-callee", cli, *common,
                       "--identity", os.path.join(lab.tmp, "callee.pem"),
                       "--audio-in", "gst:" + source_description(files["b"]),
                       "--audio-out", "gst:" + sink_description(rec["a2b"]),
                       "listen", "--answer", "trusted", "--calls", "1",
                       stdout=open(callee_out, "w"))
    registered = None
    deadline = time.monotonic() + 20
    while registered is None and time.monotonic() < deadline and callee.poll() is None:
        time.sleep(0.05)
        registered = next((e for e in read_events(callee_out) if e.get("event") == "registered"),
                          None)
    if registered is None:
        lab.stop(callee)
        raise RuntimeError(f"{tag}: the callee did not register")
    caller = lab.spawn("lan1a", f"{tag}-caller", cli, *common,
                       "--identity", os.path.join(lab.tmp, "caller.pem"),
                       *(["--privacy"] if path == "relay" else []),
                       "--audio-in", "gst:" + source_description(files["a"]),
                       "--audio-out", "gst:" + sink_description(rec["b2a"]),
                       "call", registered["fingerprint"], "--hold", str(seconds),
                       stdout=open(caller_out, "w"))
    window = Window(lab, {"lan1a": caller.pid, "lan2a": callee.pid})
    path_seen = None
    deadline = time.monotonic() + 30
    while path_seen is None and time.monotonic() < deadline and caller.poll() is None:
        time.sleep(0.05)
        if any(e.get("event") == "path" for e in read_events(caller_out)):
            path_seen = time.monotonic()
    if path_seen is not None and wait_until(path_seen + 2, (caller, callee)):
        window.mark()
        if wait_until(path_seen + seconds - 1, (caller, callee)):
            window.mark()
    for p, grace in ((caller, 30), (callee, 10)):
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            lab.stop(p)
    meta = {"impl": "ours", "cond": cond, "seconds": seconds, "files": files, "rec": rec,
            "window": window.result(), "caller": read_events(caller_out),
            "callee": read_events(callee_out), "rc": [caller.returncode, callee.returncode]}
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f)
    return d


def last_origins(events):
    """The last "audio" event with both timelines known, and how many distinct ones there
    were."""
    found = [e for e in events if e.get("event") == "audio"
             and e.get("capture_origin_us", -1) >= 0 and e.get("playback_origin_us", -1) >= 0]
    return (found[-1], len({(e["capture_origin_us"], e["playback_origin_us"]) for e in found})
            ) if found else (None, 0)


def playout_delay_ms(events):
    """The median of the receiver's playout target over its stats events (the first two
    left out: the target starts low and settles)."""
    values = [e["playout-delay-ms"] for e in events if e.get("event") == "stats"
              and "playout-delay-ms" in e][2:]
    return vm.percentile(values, 0.5) if values else None


# ---------------------------------------------------------------- the baseline

def run_baseline(lab, cond, seconds, files, jb_ms, tag):
    """The same call as RTP over UDP: one `rtp` endpoint (both directions) on each host."""
    d = os.path.join(lab.tmp, tag)
    os.makedirs(d, exist_ok=True)
    rec = {"a2b": os.path.join(d, "a2b.wav"), "b2a": os.path.join(d, "b2a.wav")}
    ends = {}
    for host, other, sent, heard, jb in (("lan1a", "lan2a", files["a"], rec["b2a"], jb_ms["b2a"]),
                                         ("lan2a", "lan1a", files["b"], rec["a2b"], jb_ms["a2b"])):
        if cond["path"] == "relay":
            peer = f"{RELAY_A}:{UDP_RELAY_PORTS[host]}"
        else:
            peer = f"{NAT_WAN[other]}:{RTP_PORT}"
        out = os.path.join(d, f"{host}.jsonl")
        p = lab.spawn(host, f"{tag}-{host}", GST_PYTHON, os.path.abspath(__file__), "rtp",
                      "--port", str(RTP_PORT), "--peer", peer, "--send", sent, "--record", heard,
                      "--jitterbuffer-ms", str(jb), "--seconds", str(seconds),
                      stdout=open(out, "w"))
        ends[host] = (p, out)
    procs = [p for p, _ in ends.values()]
    window = Window(lab, {h: p.pid for h, (p, _) in ends.items()})
    started = None
    deadline = time.monotonic() + 30
    while started is None and time.monotonic() < deadline and all(p.poll() is None for p in procs):
        time.sleep(0.05)
        if all(any(e.get("event") == "audio" for e in read_events(out))
               for _, out in ends.values()):
            started = time.monotonic()
    if started is not None and wait_until(started + 2, procs):
        window.mark()
        if wait_until(started + seconds - 1, procs):
            window.mark()
    for p in procs:
        try:
            p.wait(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            lab.stop(p)
    meta = {"impl": "udp", "cond": cond, "seconds": seconds, "files": files, "rec": rec,
            "jitterbuffer_ms": jb_ms, "window": window.result(),
            "lan1a": read_events(ends["lan1a"][1]), "lan2a": read_events(ends["lan2a"][1]),
            "rc": [p.returncode for p in procs]}
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f)
    return d


def cmd_rtp(args):
    """A baseline endpoint: sends --send as RTP/Opus to --peer from --port and records what
    comes back to that port; prints JSON events."""
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gio, GLib, Gst

    def emit(**event):
        print(json.dumps(event), flush=True)

    Gst.init(None)
    host, port = args.peer.rsplit(":", 1)
    peer = (host, int(port))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", args.port))
    sock.setblocking(False)
    # Open the NATs (or let the forwarder learn us) before any audio, then drop what came.
    heard = 0
    end = time.monotonic() + args.punch_s
    while time.monotonic() < end:
        sock.sendto(b"wzp-bench-punch", peer)
        time.sleep(0.02)
        try:
            while True:
                sock.recvfrom(2048)
                heard += 1
        except BlockingIOError:
            pass
    gsock = Gio.Socket.new_from_fd(sock.detach())
    probe = "wzp-bench-probe"
    # Receiving: the jitter buffer and a clock-synchronised element where a sound card's
    # sink would be (it releases each packet at its time plus the pipeline's latency, the
    # jitter buffer's), decoding, and then, as in ours, the decoded audio pushed into a
    # pipeline that stamps it with the time it came: the recording is when the sink got it.
    network = Gst.parse_launch(
        'udpsrc name=rx caps="application/x-rtp,media=audio,clock-rate=48000,'
        'encoding-name=OPUS,payload=96" ! '
        f"rtpjitterbuffer name=jb latency={args.jitterbuffer_ms} do-lost=true ! clocksync ! "
        f"rtpopusdepay ! {DECODE} ! audioconvert ! audioresample ! {PCM_CAPS} ! "
        "appsink name=out sync=false emit-signals=true")
    playback = Gst.parse_launch(
        f"appsrc name=in is-live=true format=time do-timestamp=true caps={PCM_CAPS} ! "
        f"webrtcechoprobe name={probe} ! volume ! audioconvert ! audioresample ! "
        + sink_description(args.record))
    capture = Gst.parse_launch(
        f"{source_description(args.send)} ! audioconvert ! audioresample ! {PCM_CAPS} ! "
        f"{DSP.format(probe=probe)} ! volume ! {OPUS} ! rtpopuspay pt=96 ! "
        "udpsink name=tx sync=false async=false")
    rx, tx = network.get_by_name("rx"), capture.get_by_name("tx")
    rx.set_property("socket", gsock)
    rx.set_property("close-socket", False)
    tx.set_property("socket", gsock)
    tx.set_property("close-socket", False)
    tx.set_property("host", peer[0])
    tx.set_property("port", peer[1])
    appsrc = playback.get_by_name("in")

    def decoded(sink):
        sample = sink.emit("pull-sample")
        buf = sample.get_buffer()
        out = Gst.Buffer.new_wrapped(buf.extract_dup(0, buf.get_size()))
        out.duration = buf.duration
        appsrc.emit("push-buffer", out)
        return Gst.FlowReturn.OK

    network.get_by_name("out").connect("new-sample", decoded)
    # As ours: every pipeline on the system clock from one base time, so that the echo
    # probe and the canceller mean the same moment by the same running time.
    clock = Gst.SystemClock.obtain()
    base_time = clock.get_time()
    for pipeline in (playback, network, capture):
        pipeline.use_clock(clock)
        pipeline.set_start_time(Gst.CLOCK_TIME_NONE)
        pipeline.set_base_time(base_time)
    # Playback first: the echo canceller finds its probe by name.
    playback.set_state(Gst.State.PLAYING)
    network.set_state(Gst.State.PLAYING)
    capture.set_state(Gst.State.PLAYING)
    capture.get_state(5 * Gst.SECOND)

    def origin_us(pipeline):
        clock = pipeline.get_clock()
        now = clock.get_time()
        return GLib.get_monotonic_time() - (now - pipeline.get_base_time()) // 1000

    emit(event="audio", capture_origin_us=origin_us(capture),
         playback_origin_us=origin_us(playback), punch_packets_heard=heard)
    buses = [p.get_bus() for p in (network, playback, capture)]
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        for bus in buses:
            msg = bus.timed_pop_filtered(30 * Gst.MSECOND, Gst.MessageType.ERROR)
            if msg is not None:
                err, dbg = msg.parse_error()
                emit(event="error", message=err.message, debug=dbg)
    jb = network.get_by_name("jb").get_property("stats")
    dec = network.get_by_name("dec").get_property("stats")
    stats = {k: int(jb.get_value(k)) for k in ("num-pushed", "num-lost", "num-late",
                                               "num-duplicates")}
    stats["avg-jitter-us"] = int(jb.get_value("avg-jitter")) // 1000
    stats["plc-ms"] = int(dec.get_value("plc-duration")) // 1_000_000
    emit(event="stats", **stats)
    capture.set_state(Gst.State.NULL)
    network.set_state(Gst.State.NULL)
    appsrc.emit("end-of-stream")
    playback.get_bus().timed_pop_filtered(2 * Gst.SECOND, Gst.MessageType.EOS |
                                          Gst.MessageType.ERROR)
    playback.set_state(Gst.State.NULL)
    emit(event="done")
    return 0


def processing_reference(sent_wav, tmp):
    """STOI of the sound processing alone, no network: the sent file through Opus, and
    through webrtcdsp as ours sets it (without its echo canceller: there is no far side)
    and Opus, decoded. Faster than real time."""
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst

    Gst.init(None)
    x, _ = vm.read_wav(sent_wav)
    positions = vm.chirp_positions(len(x))
    dsp = DSP.format(probe="none").replace("echo-cancel=true", "echo-cancel=false")
    out = {}
    for name, chain in (("opus", ""), ("webrtcdsp+opus", f"{dsp} ! ")):
        rec = os.path.join(tmp, f"reference-{name}.wav")
        p = Gst.parse_launch(
            f'filesrc location="{sent_wav}" ! wavparse ! audioconvert ! audioresample ! '
            f"{PCM_CAPS} ! audiobuffersplit output-buffer-duration=1/100 ! {chain}{OPUS} ! "
            f"opusdec ! audioconvert ! {PCM_CAPS} ! wavenc ! filesink location={rec}")
        try:
            p.set_state(Gst.State.PLAYING)
            p.get_bus().timed_pop_filtered(300 * Gst.SECOND, Gst.MessageType.EOS |
                                           Gst.MessageType.ERROR)
        finally:
            p.set_state(Gst.State.NULL)
        y, _ = vm.read_wav(rec)
        matches = vm.find_chirps(y, positions, 0, 0.2)
        aligned = vm.aligned(y, x, matches)
        out[name] = vm.stoi(vm.without_chirps(x, positions),
                            vm.without_chirps(aligned, positions), vm.RATE)
    return out


def processing_cpu(sent_wav, seconds):
    """CPU (% of a core) of one side's GStreamer elements alone, in real time: its capture
    as ours makes it (webrtcdsp, Opus), decoded again and played into the echo probe, in
    gst-launch-1.0, with no network and no application."""
    pipeline = (f"{source_description(sent_wav)} ! audioconvert ! audioresample ! {PCM_CAPS} ! "
                f"{DSP.format(probe='p')} ! volume ! {OPUS} ! opusdec plc=true ! "
                f"audioconvert ! audioresample ! {PCM_CAPS} ! webrtcechoprobe name=p ! "
                "volume ! fakesink sync=false")
    p = subprocess.Popen(["gst-launch-1.0", "-q", *pipeline.replace('"', "").split()],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(2)
        t0, c0 = time.monotonic(), cpu_ticks(p.pid)
        time.sleep(seconds)
        t1, c1 = time.monotonic(), cpu_ticks(p.pid)
    finally:
        p.terminate()
        p.wait()
    if c0 is None or c1 is None:
        return None
    return (c1 - c0) / os.sysconf("SC_CLK_TCK") / (t1 - t0) * 100


def cmd_udp_relay(args):
    """A TURN-like forwarder for the baseline's relay path: what comes to one port goes out
    of the other to the address last heard on it."""
    socks, last = [], {}
    for port in args.ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((args.listen, port))
        socks.append(s)
    print("relaying", flush=True)
    while True:
        for s in select.select(socks, [], [])[0]:
            data, addr = s.recvfrom(4096)
            last[s] = addr
            other = socks[1 - socks.index(s)]
            if other in last:
                other.sendto(data, last[other])


# ---------------------------------------------------------------- analysis

def analyze_direction(sent_wav, rec_wav, capture_origin_us, playback_origin_us, skip_s):
    """Mouth-to-ear latency of the chirps and STOI of the speech, one direction."""
    x, _ = vm.read_wav(sent_wav)
    try:
        r, _ = vm.read_wav(rec_wav)
    except (OSError, EOFError, ValueError) as e:
        return {"error": f"recording: {e}"}
    # Render time of recording sample k: playback origin + k / rate; capture time of sent
    # sample p: capture origin + p / rate.
    shift_us = playback_origin_us - capture_origin_us
    zero = -shift_us * vm.RATE / 1e6            # k - p at zero latency
    positions = vm.chirp_positions(len(x))
    sent_until = len(r) - zero                  # the recording covers sent samples < this
    expected = [p for p in positions if p + zero + vm.CHIRP_PERIOD_S * vm.RATE <= len(r)
                and p >= skip_s * vm.RATE and p < sent_until]
    matches = vm.find_chirps(r, positions, zero)
    lat = [(p / vm.RATE, shift_us / 1000 + (k - p) / vm.RATE * 1000) for p, k, _ in matches
           if p >= skip_s * vm.RATE]
    out = vm.latency_summary([t for t, _ in lat], [v for _, v in lat])
    out["chirps_expected"] = len(expected)
    out["chirps_found"] = len(lat)
    out["series"] = [[round(t, 2), round(v, 2)] for t, v in lat]
    if matches:
        lo = max(0, matches[0][0] - int(0.25 * vm.RATE))
        hi = min(len(x), matches[-1][0] + int(0.25 * vm.RATE))
        y = vm.aligned(r, x, matches)
        kept = [p - lo for p in positions if lo <= p < hi]
        out["stoi"] = vm.stoi(vm.without_chirps(x[lo:hi], kept),
                              vm.without_chirps(y[lo:hi], kept), vm.RATE)
        out["stoi_seconds"] = (hi - lo) / vm.RATE
    return out


def last_stats(events):
    stats = [e for e in events if e.get("event") == "stats"]
    return stats[-1] if stats else {}


def receiver_figures(meta, direction, sender, receiver):
    """What the receiver counted: concealed and late shares, the counters, and its playout
    delay (ours: the median target; UDP: the jitter buffer's)."""
    st = last_stats(receiver)
    if meta["impl"] == "ours":
        played, concealed = st.get("frames-played", 0), st.get("frames-concealed", 0)
        received, late = st.get("frames-received", 0), st.get("frames-late", 0)
        frames = {"played": played, "concealed": concealed, "late": late, "received": received,
                  "dropped_at_sender": last_stats(sender).get("frames-dropped")}
        delay = playout_delay_ms(receiver)
    else:
        played, concealed = st.get("num-pushed", 0), st.get("num-lost", 0)
        late = st.get("num-late", 0)
        received = played + late
        frames = {"pushed": played, "lost": concealed, "late": late, "plc_ms": st.get("plc-ms"),
                  "avg_jitter_us": st.get("avg-jitter-us")}
        delay = meta["jitterbuffer_ms"][direction]
    return {"concealed_pct": 100 * concealed / (played + concealed) if played + concealed else None,
            "late_pct": 100 * late / received if received else None,
            "frames": frames, "playout_delay_ms": delay}


def analyze(d, skip_s=2.0):
    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    res = {"impl": meta["impl"], "cond": meta["cond"], "window": meta["window"],
           "rc": meta["rc"], "dirs": {}}
    if meta["impl"] == "ours":
        events = {"lan1a": meta["caller"], "lan2a": meta["callee"]}
        res["paths"] = [e.get("kind") for e in meta["caller"] if e.get("event") == "path"]
    else:
        events = {"lan1a": meta["lan1a"], "lan2a": meta["lan2a"]}
    for direction, (sender, receiver) in (("a2b", ("lan1a", "lan2a")),
                                          ("b2a", ("lan2a", "lan1a"))):
        so, n_so = last_origins(events[sender])
        ro, n_ro = last_origins(events[receiver])
        if so is None or ro is None:
            res["dirs"][direction] = {"error": "no audio event"}
            continue
        r = analyze_direction(meta["files"][direction[0]], meta["rec"][direction],
                              so["capture_origin_us"], ro["playback_origin_us"], skip_s)
        r.update(receiver_figures(meta, direction, events[sender], events[receiver]))
        r["origin_changes"] = max(n_so, n_ro) - 1
        res["dirs"][direction] = r
    return res


# ---------------------------------------------------------------- report

def fmt(x, digits=1, sign=False):
    if x is None:
        return "-"
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}"


def cond_name(c):
    burst = f" b{c['burst']:g}" if c.get("burst", 1) > 1 else ""
    return f"{c['path']} +{c['delay']:g}ms {c['loss']:g}%{burst}"


def oneway_ms(c):
    return c["delay"] * (2 if c["path"] == "relay" else 1)


def row_figures(res, direction):
    r = res["dirs"].get(direction, {})
    w = res.get("window", {})
    sender, receiver = ("lan1a", "lan2a") if direction == "a2b" else ("lan2a", "lan1a")
    return {
        "median": r.get("median"), "jitter": r.get("p95_minus_median"),
        "slope": r.get("slope_ms_per_min"), "growth": r.get("growth"),
        "stoi": r.get("stoi"), "conc": r.get("concealed_pct"), "late": r.get("late_pct"),
        "cpu_a": w.get("cpu", {}).get("lan1a"), "cpu_b": w.get("cpu", {}).get("lan2a"),
        "kbps": w.get("kbps_out", {}).get(sender),
        "chirps": f"{r.get('chirps_found', 0)}/{r.get('chirps_expected', 0)}",
        "delay": r.get("playout_delay_ms"), "error": r.get("error"),
    }


COLUMNS = [("median", "lat ms", 1), ("jitter", "p95-med", 1), ("growth", "growth", 1),
           ("stoi", "STOI", 3), ("conc", "conc%", 2), ("late", "late%", 2),
           ("cpu_a", "CPU A%", 1), ("cpu_b", "CPU B%", 1), ("kbps", "kb/s", 1)]


def table(results, direction):
    head = (f"{'condition':<22} {'':<5} " + " ".join(f"{h:>8}" for _, h, _ in COLUMNS) +
            f" {'chirps':>9} {'buffer':>6}")
    lines = [head, "-" * len(head)]
    for ours, udp in results:
        o, u = row_figures(ours, direction), row_figures(udp, direction)
        name = cond_name(ours["cond"])
        for label, f in (("ours", o), ("udp", u)):
            cells = " ".join(f"{fmt(f[k], d, sign=(k == 'growth')):>8}" for k, _, d in COLUMNS)
            lines.append(f"{name if label == 'ours' else '':<22} {label:<5} {cells} "
                         f"{f['chirps']:>9} {fmt(f['delay'], 0):>6}")
        # no ratio of growths, nor of spreads under a millisecond (noise)
        cells = " ".join(f"{ratio(o[k], u[k]) if shown else '':>8}" for k, shown in
                         ((k, k != "growth" and (k != "jitter" or (u[k] or 0) >= 1))
                          for k, _, _ in COLUMNS))
        lines.append(f"{'':<22} {'ratio':<5} {cells}")
    return lines


def check_targets(ours, udp, clean, reference):
    """The issue's targets for ours in one condition: [(what, figure, met)]."""
    c = ours["cond"]
    out = []
    a2b, b2a = row_figures(ours, "a2b"), row_figures(ours, "b2a")
    w = ours.get("window", {})
    limit = 80 + oneway_ms(c)
    med = [f["median"] for f in (a2b, b2a) if f["median"] is not None]
    if not med:
        return [("latency measured", "no chirps", False)]
    worst = max(med)
    if c["loss"] == 0:
        out.append((f"median <= {limit:g} ms", f"{worst:.1f}", worst <= limit))
        j = max(f["jitter"] for f in (a2b, b2a) if f["jitter"] is not None)
        out.append(("p95 - median <= 5 ms", f"{j:.1f}", j <= 5))
        g = [abs(f["growth"]) for f in (a2b, b2a) if f["growth"] is not None]
        if g:
            out.append(("no growth (|last tenth - first tenth| <= 5 ms)", f"{max(g):.1f}",
                        max(g) <= 5))
        s = min(f["stoi"] for f in (a2b, b2a) if f["stoi"] is not None)
        alone = ""
        if reference:
            best = min(reference[w]["webrtcdsp+opus"] for w in ("a", "b"))
            alone = f" (processing alone {best:.3f})"
        out.append(("STOI >= 0.98", f"{s:.3f}{alone}", s >= 0.98))
        n = sum(ours["dirs"][d].get("frames", {}).get("concealed", 0) for d in ("a2b", "b2a"))
        out.append(("no concealed frame", f"{n}", n == 0))
        u = [row_figures(udp, d)["median"] for d in ("a2b", "b2a")]
        if None not in u:
            diff = max(o["median"] - v for o, v in zip((a2b, b2a), u))
            out.append(("within 10 ms of UDP (median)", f"{diff:+.1f}", diff <= 10))
    else:
        conc_limit, stoi_limit = (4, 0.93) if c["loss"] <= 1 else (5, 0.88)
        if c["loss"] <= 1 and clean is not None:
            base = [row_figures(clean, d)["median"] for d in ("a2b", "b2a")]
            if None not in base:
                diff = max(o["median"] - b for o, b in zip((a2b, b2a), base))
                out.append(("median unchanged from 0% (<= +5 ms)", f"{diff:+.1f}", diff <= 5))
            j = max(f["jitter"] for f in (a2b, b2a) if f["jitter"] is not None)
            out.append(("p95 - median <= 5 ms", f"{j:.1f}", j <= 5))
        elif c["loss"] > 1:
            limit = 160 + max(0, oneway_ms(c) - 20)
            out.append((f"median <= {limit:g} ms", f"{worst:.1f}", worst <= limit))
        conc = max(f["conc"] for f in (a2b, b2a) if f["conc"] is not None)
        out.append((f"concealed <= {conc_limit}%", f"{conc:.2f}", conc <= conc_limit))
        s = min(f["stoi"] for f in (a2b, b2a) if f["stoi"] is not None)
        out.append((f"STOI >= {stoi_limit}", f"{s:.3f}", s >= stoi_limit))
    cpu = w.get("cpu", {})
    if cpu:
        m = max(cpu.values())
        alone = ""
        if reference and reference.get("cpu"):
            alone = f" (elements alone {reference['cpu']:.1f})"
        out.append(("CPU <= 5% per endpoint", f"{m:.1f}{alone}", m <= 5))
    kb = w.get("kbps_out", {})
    if kb:
        m = max(kb.values())
        out.append(("<= 70 kb/s per direction", f"{m:.1f}", m <= 70))
    return out


def report(results, args_text, reference):
    lines = [f"Voice in the lab: lan1a (A, caller) <-> lan2a (B), cone NATs, IPv4. {args_text}"]
    if reference:
        lines += ["", "The sound processing alone, no network: STOI (A's file / B's) " +
                  "; ".join(f"{name} {reference['a'][name]:.3f} / {reference['b'][name]:.3f}"
                            for name in reference["a"]) +
                  f"; CPU of one side's elements (webrtcdsp, opusenc, opusdec, echo probe; "
                  f"gst-launch-1.0) {fmt(reference.get('cpu'))}% of a core"]
    lines += ["", "A -> B (what B heard of A):", ""]
    lines += table(results, "a2b")
    lines += ["", "B -> A (what A heard of B):", ""]
    lines += table(results, "b2a")
    lines += ["", "Targets (ours; the worse of the two directions; " + TARGETS_TEXT + "):", ""]
    clean = {}
    for ours, _ in results:
        c = ours["cond"]
        if c["loss"] == 0:
            clean[(c["path"], c["delay"])] = ours
    for ours, udp in results:
        c = ours["cond"]
        checks = check_targets(ours, udp, clean.get((c["path"], c["delay"])), reference)
        text = "; ".join(f"{what}: {fig} {'yes' if met else 'NO'}" for what, fig, met in checks)
        lines.append(f"{cond_name(c):<22} {text}")
    lines += ["", "Columns: lat = mouth-to-ear latency of the chirps after the first 2 s, "
              "median, p95 - median, and growth (median of the last tenth minus the first), "
              "ms; STOI of the speech (chirps cut out); conc% = frames concealed, late% = "
              "frames that came after their time (UDP: the jitter buffer's lost and late "
              "packets); CPU of A's and B's process (each sends and receives) over the call, "
              "% of a core; kb/s = IPv4 bytes the sender's host put on the wire; chirps found / "
              "expected; buffer = ours: median playout target over the call, UDP: the jitter "
              "buffer's latency (ms). Ratios: ours / UDP.", "", "Details:"]
    for ours, udp in results:
        lines.append(f"  {cond_name(ours['cond'])}:")
        for res in (ours, udp):
            w = res.get("window", {})
            extra = ""
            if res["impl"] == "ours":
                extra = f" paths {res.get('paths')};"
            frames = {d: res["dirs"].get(d, {}).get("frames") for d in ("a2b", "b2a")}
            errors = {d: res["dirs"][d]["error"] for d in res["dirs"] if "error" in res["dirs"][d]}
            slopes = {d: res["dirs"].get(d, {}).get("slope_ms_per_min") for d in ("a2b", "b2a")}
            rounded = {k: {h: round(v, 1) for h, v in w.get(k, {}).items()}
                       for k in ("kbps_in", "pps_out")}
            lines.append(f"    {res['impl']}: exit {res['rc']};{extra} frames {frames}; TCP "
                         f"retransmits {w.get('retrans')}; kb/s in {rounded['kbps_in']}; "
                         f"packets/s out {rounded['pps_out']}; processes "
                         f"{w.get('processes')}; slope ms/min {slopes}"
                         + (f"; errors {errors}" if errors else ""))
    return "\n".join(lines)


# ---------------------------------------------------------------- main

def conditions(args):
    out = []
    for path in args.paths.split(","):
        for delay in [float(x) for x in args.delays.split(",")]:
            for spec in args.losses.split(","):
                loss, _, burst = spec.partition(":")
                out.append({"path": path, "delay": delay, "loss": float(loss),
                            "burst": float(burst) if burst else 1.0})
    return out


def cmd_run(args):
    if args.quick:
        args.seconds = args.seconds or 10
        args.paths = args.paths or "direct,relay"
        args.delays = args.delays or "20"
        args.losses = args.losses or "0,5"
    if args.long:
        args.seconds = args.seconds or 600
        args.paths = args.paths or "direct"
        args.delays = args.delays or "0"
        args.losses = args.losses or "0"
    args.seconds = args.seconds or 60
    args.paths = args.paths or "direct,relay"
    args.delays = args.delays or "0,20"
    args.losses = args.losses or "0,1,5"
    conds = conditions(args)
    if os.geteuid() != 0:
        log("bench-voice: needs root (netlab)")
        return 77
    for tool in ("iptables-legacy", "espeak-ng", "nft"):
        if shutil.which(tool) is None:
            log(f"bench-voice: {tool} is missing")
            return 1
    build = os.path.abspath(args.build_dir)
    for b in ("wzp-relay/wzp-relay", "libwzp-glib/tools/wzp-cli"):
        if not os.access(os.path.join(build, b), os.X_OK):
            log(f"bench-voice: {b} is not built in {build}")
            return 1
    r = subprocess.run([NETLAB, "check"], capture_output=True, text=True)
    if r.returncode != 0:
        log(f"bench-voice: the lab is unusable: {r.stdout.strip()}")
        return 77

    race.own_session(args.priority, "bench-voice")

    tmp = tempfile.mkdtemp(prefix="wzp-bench-voice-")
    started = time.monotonic()
    span = args.seconds + 10
    files = {"a": vm.make_signal(os.path.join(tmp, "a.wav"), "a", span),
             "b": vm.make_signal(os.path.join(tmp, "b.wav"), "b", span)}
    reference = {who: processing_reference(files[who], tmp) for who in ("a", "b")}
    reference["cpu"] = processing_cpu(files["a"], min(args.seconds, 20))
    args_text = (f"{args.seconds:g} s per condition and implementation; "
                 f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, kernel "
                 f"{os.uname().release}")
    log(f"bench-voice: {len(conds)} conditions x {args.seconds:g} s x 2; files in {tmp}")
    results = []
    with lock.held(timeout=3600, say=log):
        lab = Lab(tmp, build)
        try:
            lab.run("down", "--kill")
            lab.run("up", "--nat", "cone", check=True)
            relay_a = lab.start_relay("relayA", "relayA", RELAY_A)
            relay_b = lab.start_relay("relayB", "relayB", RELAY_B)
            fwd = lab.spawn("relayA", "udp-relay", sys.executable, os.path.abspath(__file__),
                            "udp-relay", "--listen", RELAY_A, "--ports",
                            *[str(p) for p in UDP_RELAY_PORTS.values()])
            if fwd.stdout.readline().strip() != "relaying":
                raise RuntimeError("the UDP forwarder did not start")
            # IPv4 only, as the lab's voice tests: the direct path crosses both NATs.
            lab.flush_ipv6("lan1a", "lan2a")
            for host in ("lan1a", "lan2a"):
                lab.install_counters(host)
            for i, cond in enumerate(conds):
                tag = cond_name(cond).replace(" ", "_").replace("+", "").replace("%", "pct")
                lab.set_wan(cond["delay"], cond["loss"], cond["burst"], args.seed + i)
                lab.run("flush")
                with open("/proc/loadavg") as f:
                    load = f.read().split()[0]
                log(f"[{time.monotonic() - started:5.0f}s] {cond_name(cond)}: ours (load {load})")
                ours = analyze(run_ours(lab, relay_a, relay_b, cond, args.seconds, files,
                                        f"{tag}-ours"))
                jb = {}
                for d in ("a2b", "b2a"):
                    delay = ours["dirs"].get(d, {}).get("playout_delay_ms")
                    jb[d] = int(round(delay)) if delay else 40
                log(f"    ours: A>B {summary_text(ours, 'a2b')}; B>A {summary_text(ours, 'b2a')}")
                lab.run("flush")
                log(f"[{time.monotonic() - started:5.0f}s] {cond_name(cond)}: RTP over UDP, "
                    f"jitter buffer {jb['a2b']}/{jb['b2a']} ms")
                udp = analyze(run_baseline(lab, cond, args.seconds, files, jb, f"{tag}-udp"))
                log(f"    udp:  A>B {summary_text(udp, 'a2b')}; B>A {summary_text(udp, 'b2a')}")
                results.append((ours, udp))
                with open(os.path.join(tmp, "results.json"), "w") as f:
                    json.dump({"args": args_text, "reference": reference, "results": results}, f)
        finally:
            try:
                lab.set_wan(0, 0, 1, 0)
            except Exception:  # the lab may be gone already
                pass
            lab.stop_all()
            lab.run("down", "--kill")
    text = report(results, args_text, reference)
    print(text)
    with open(os.path.join(tmp, "report.txt"), "w") as f:
        f.write(text + "\n")
    log(f"bench-voice: {time.monotonic() - started:.0f} s; recordings, events and report in {tmp}")
    return 0


def summary_text(res, direction):
    f = row_figures(res, direction)
    if f["error"]:
        return f["error"]
    return (f"latency {fmt(f['median'])} ms (p95-med {fmt(f['jitter'])}), STOI "
            f"{fmt(f['stoi'], 3)}, concealed {fmt(f['conc'], 2)}%, chirps {f['chirps']}")


def cmd_analyze(args):
    """The report again, from a run's directory (each condition analysed anew)."""
    with open(os.path.join(args.dir, "results.json")) as f:
        saved = json.load(f)
    results = []
    for ours, udp in saved["results"]:
        tag = cond_name(ours["cond"]).replace(" ", "_").replace("+", "").replace("%", "pct")
        results.append((analyze(os.path.join(args.dir, f"{tag}-ours")),
                        analyze(os.path.join(args.dir, f"{tag}-udp"))))
    print(report(results, saved["args"], saved.get("reference")))
    return 0


def main():
    parser = argparse.ArgumentParser(description="voice in calls against RTP over UDP")
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("run", help="the benchmark (default)")
    p.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    p.add_argument("--seconds", type=float, help="per condition and implementation (60)")
    p.add_argument("--paths", help="direct,relay")
    p.add_argument("--delays", help="WAN one-way delays, ms (0,20)")
    p.add_argument("--losses", help="WAN loss, percent, each optionally :BURST, the mean "
                                    "length of a loss burst (Gilbert model; default 1: random)"
                                    " (0,1,5)")
    p.add_argument("--quick", action="store_true",
                   help="10 s per condition; direct and relay at +20 ms with 0 and 5%% loss")
    p.add_argument("--long", action="store_true",
                   help="the clean direct path only, for 10 minutes")
    p.add_argument("--seed", type=int, default=1, help="the shaper's first seed")
    p.add_argument("--priority", type=int, default=-10,
                   help="nice value of the run's session (autogroup)")
    p = sub.add_parser("rtp")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--peer", required=True)
    p.add_argument("--send", required=True)
    p.add_argument("--record", required=True)
    p.add_argument("--jitterbuffer-ms", type=int, default=40)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--punch-s", type=float, default=1.0)
    p = sub.add_parser("udp-relay")
    p.add_argument("--listen", required=True)
    p.add_argument("--ports", type=int, nargs=2, required=True)
    p = sub.add_parser("analyze")
    p.add_argument("dir")
    argv = sys.argv[1:]
    if not argv or argv[0].startswith("-"):
        argv = ["run", *argv]
    args = parser.parse_args(argv)
    return {"run": cmd_run, "rtp": cmd_rtp, "udp-relay": cmd_udp_relay,
            "analyze": cmd_analyze}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
