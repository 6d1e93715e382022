#!/usr/bin/python3
# probes.py: small UDP/TCP helpers the self-check runs inside the lab's hosts (and handy by
# hand: `netlab exec lan1a -- python3 tests/netlab/wzplab/probes.py probe --to ...`). Each
# prints JSON, one object a line, and ends by itself within its time limits.
#
#   serve  --udp ADDR --tcp ADDR ... --seconds S      reflector: answers "seen IP:PORT"
#   probe  --proto udp|tcp --to ADDR ...              from one local port to each ADDR:
#                                                       the address each one saw
#   hold   --proto udp|tcp --server ADDR --mapfile F  keeps a mapping alive, writes it to F,
#                                                       reports anyone else who reaches it
#   punch  --server ADDR --mapfile F --peerfile G     UDP hole punch towards the address
#                                                       in G (the peer's mapping)
#   ping   --to ADDR --count N                        UDP echo rounds to a reflector: RTTs
#                                                       and how many came back
#
# ADDR is IP:PORT, or [IPv6]:PORT.
#
# SPDX-License-Identifier: GPL-3.0-or-later

import argparse
import errno
import json
import os
import select
import socket
import struct
import sys
import time


def parse(addr):
    host, port = addr.rsplit(":", 1)
    host = host.strip("[]")
    return (socket.AF_INET6 if ":" in host else socket.AF_INET), (host, int(port))


def show(sockaddr):
    host, port = sockaddr[0], sockaddr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def emit(**fields):
    print(json.dumps(fields), flush=True)


def seen_reply(sockaddr):
    return f"seen {show(sockaddr)}\n".encode()


def read_seen(data):
    text = data.decode(errors="replace").strip()
    return text[5:] if text.startswith("seen ") else None


def error_name(e):
    if isinstance(e, socket.timeout):
        return "timeout"
    return {errno.ECONNREFUSED: "refused", errno.ENETUNREACH: "unreachable",
            errno.EHOSTUNREACH: "unreachable"}.get(e.errno, str(e))


def reusable(family, kind):
    s = socket.socket(family, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    return s


def any_addr(family, port=0):
    return ("::", port) if family == socket.AF_INET6 else ("0.0.0.0", port)


# ---------------------------------------------------------------------------- serve

def cmd_serve(args):
    udp, tcp = [], []
    for addr in args.udp:
        family, sa = parse(addr)
        s = reusable(family, socket.SOCK_DGRAM)
        s.bind(sa)
        udp.append(s)
    for addr in args.tcp:
        family, sa = parse(addr)
        s = reusable(family, socket.SOCK_STREAM)
        s.bind(sa)
        s.listen(64)
        tcp.append(s)
    emit(ready=True)
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        readable = select.select(udp + tcp, [], [], max(0.0, end - time.monotonic()))[0]
        for s in readable:
            if s in udp:
                data, peer = s.recvfrom(2048)
                if data.startswith(b"echo "):
                    s.sendto(data, peer)          # ping: the payload back, as it came
                else:
                    s.sendto(seen_reply(peer), peer)
                    emit(proto="udp", seen=show(peer))
            else:
                conn, peer = s.accept()
                with conn:
                    conn.sendall(seen_reply(peer))
                emit(proto="tcp", seen=show(peer))


# ---------------------------------------------------------------------------- probe

def udp_ask(sock, sa, timeout, tries):
    for _ in range(tries):
        sock.sendto(b"?", sa)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not select.select([sock], [], [], max(0.0, end - time.monotonic()))[0]:
                break
            try:
                data, peer = sock.recvfrom(2048)
            except OSError as e:       # an ICMP error for an earlier datagram
                return None, error_name(e)
            if peer[:2] == sa or read_seen(data):
                return read_seen(data), None
    return None, "timeout"


def tcp_ask(family, port, sa, timeout):
    s = reusable(family, socket.SOCK_STREAM)
    try:
        s.bind(any_addr(family, port))
        s.settimeout(timeout)
        s.connect(sa)
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(256)
            if not chunk:
                break
            data += chunk
        return read_seen(data), None
    except OSError as e:
        return None, error_name(e)
    finally:
        s.close()


def cmd_probe(args):
    targets = [parse(a) for a in args.to]
    family = targets[0][0]
    seen, errors = [], []
    if args.proto == "udp":
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.bind(any_addr(family))
        port = sock.getsockname()[1]
        for _, sa in targets:
            s, e = udp_ask(sock, sa, args.timeout, args.tries)
            seen.append(s)
            errors.append(e)
        sock.close()
    else:
        keeper = reusable(family, socket.SOCK_STREAM)    # holds the port between connects
        keeper.bind(any_addr(family))
        port = keeper.getsockname()[1]
        for _, sa in targets:
            s, e = tcp_ask(family, port, sa, args.timeout)
            seen.append(s)
            errors.append(e)
        keeper.close()
    emit(local=port, seen=seen, errors=errors)


# ---------------------------------------------------------------------------- hold

def cmd_hold(args):
    family, server = parse(args.server)
    end = time.monotonic() + args.seconds
    mapped = None

    def learned(value):
        nonlocal mapped
        if value and not mapped:
            mapped = value
            with open(args.mapfile + ".tmp", "w") as f:
                f.write(value + "\n")
            os.rename(args.mapfile + ".tmp", args.mapfile)
            emit(mapped=value)

    if args.proto == "udp":
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.bind(any_addr(family))
        next_keepalive = 0.0
        while time.monotonic() < end:
            if time.monotonic() >= next_keepalive:
                sock.sendto(b"?", server)
                next_keepalive = time.monotonic() + 0.3
            if select.select([sock], [], [], 0.05)[0]:
                try:
                    data, peer = sock.recvfrom(2048)
                except OSError:
                    continue
                if peer[:2] == server:
                    learned(read_seen(data))
                else:
                    sock.sendto(seen_reply(peer), peer)
                    emit(reached_by=show(peer))
        return
    listener = reusable(family, socket.SOCK_STREAM)
    listener.bind(any_addr(family))
    port = listener.getsockname()[1]
    listener.listen(8)
    out = reusable(family, socket.SOCK_STREAM)
    out.bind(any_addr(family, port))
    out.settimeout(3)
    out.connect(server)
    learned(read_seen(out.recv(256)))
    while time.monotonic() < end:       # the connection's conntrack entry is the mapping
        if select.select([listener], [], [], 0.05)[0]:
            conn, peer = listener.accept()
            with conn:
                conn.sendall(seen_reply(peer))
            emit(reached_by=show(peer))
    out.close()


# ---------------------------------------------------------------------------- punch

def cmd_punch(args):
    family, server = parse(args.server)
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind(any_addr(family))
    mapped, _ = udp_ask(sock, server, 1.0, 3)
    if not mapped:
        emit(mapped=None, peer=None, received=False)
        return
    with open(args.mapfile + ".tmp", "w") as f:
        f.write(mapped + "\n")
    os.rename(args.mapfile + ".tmp", args.mapfile)
    peer = None
    end = time.monotonic() + args.wait
    while time.monotonic() < end and not peer:
        try:
            with open(args.peerfile) as f:
                peer = f.read().strip() or None
        except FileNotFoundError:
            time.sleep(0.05)
    received = False
    if peer:
        _, peer_sa = parse(peer)
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            sock.sendto(b"punch", peer_sa)
            if select.select([sock], [], [], 0.1)[0]:
                try:
                    data, src = sock.recvfrom(2048)
                except OSError:
                    continue
                if src[:2] == peer_sa and data == b"punch":
                    received = True
    emit(mapped=mapped, peer=peer, received=received)


# ---------------------------------------------------------------------------- ping

def cmd_ping(args):
    family, sa = parse(args.to)
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.connect(sa)
    sent_at, rtts = {}, []
    seq = 0
    next_send = time.monotonic()
    last = None
    while True:
        now = time.monotonic()
        if seq < args.count and now >= next_send:
            sent_at[seq] = now
            sock.send(b"echo " + struct.pack("!I", seq))
            seq += 1
            next_send = now + args.interval
            if seq == args.count:
                last = now + args.timeout
        if last is not None and now >= last:
            break
        wait = (next_send if seq < args.count else last) - now
        if select.select([sock], [], [], max(0.0, wait))[0]:
            try:
                data = sock.recv(2048)
            except OSError:
                continue
            if data.startswith(b"echo ") and len(data) >= 9:
                n = struct.unpack("!I", data[5:9])[0]
                if n in sent_at:
                    rtts.append((time.monotonic() - sent_at.pop(n)) * 1000.0)
    rtts.sort()
    emit(sent=args.count, received=len(rtts), lost=sorted(sent_at),
         median_ms=rtts[len(rtts) // 2] if rtts else None)


def main():
    p = argparse.ArgumentParser(description="lab probes")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--udp", action="append", default=[])
    s.add_argument("--tcp", action="append", default=[])
    s.add_argument("--seconds", type=float, default=60)
    s = sub.add_parser("probe")
    s.add_argument("--proto", choices=("udp", "tcp"), default="udp")
    s.add_argument("--to", action="append", required=True)
    s.add_argument("--timeout", type=float, default=1.0)
    s.add_argument("--tries", type=int, default=2)
    s = sub.add_parser("hold")
    s.add_argument("--proto", choices=("udp", "tcp"), default="udp")
    s.add_argument("--server", required=True)
    s.add_argument("--mapfile", required=True)
    s.add_argument("--seconds", type=float, default=10)
    s = sub.add_parser("punch")
    s.add_argument("--server", required=True)
    s.add_argument("--mapfile", required=True)
    s.add_argument("--peerfile", required=True)
    s.add_argument("--wait", type=float, default=4)
    s.add_argument("--seconds", type=float, default=3)
    s = sub.add_parser("ping")
    s.add_argument("--to", required=True)
    s.add_argument("--count", type=int, default=20)
    s.add_argument("--interval", type=float, default=0.01)
    s.add_argument("--timeout", type=float, default=1.0)
    args = p.parse_args()
    {"serve": cmd_serve, "probe": cmd_probe, "hold": cmd_hold, "punch": cmd_punch,
     "ping": cmd_ping}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
