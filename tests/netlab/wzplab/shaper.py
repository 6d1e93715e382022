#!/usr/bin/python3
# shaper.py: delays and drops the packets that netfilter queues to it: the lab's added WAN
# delay and loss (wan.py sets up the queueing). This kernel has neither sch_netem nor
# nftables' queue statement, but the iptables NFQUEUE target works, so a packet waits here
# for --delay-ms and is then accepted, in arrival order, with one batch verdict for all that
# are due. A packet chosen for loss gets a drop verdict at once.
#
# Loss is random (each packet alone, --loss percent) or bursty (--burst N > 1): a two-state
# (Gilbert) model whose bad state drops every packet and lasts N packets on average, entered
# often enough that the long-run share of drops is still --loss percent.
#
#   shaper.py --queue 7 --delay-ms 10 --loss 5 [--burst 3] [--seed S]
#
# Prints "shaping" once the queue is bound. Runs until it is ended (SIGTERM).
#
# SPDX-License-Identifier: GPL-3.0-or-later

import argparse
import collections
import random
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG, NFQNL_MSG_VERDICT_BATCH = 0, 1, 2, 3
NFQA_CFG_CMD, NFQA_CFG_PARAMS = 1, 2
NFQA_PACKET_HDR, NFQA_VERDICT_HDR = 1, 2
NFQNL_CFG_CMD_BIND, NFQNL_COPY_META = 1, 1
NF_DROP, NF_ACCEPT = 0, 1
NLMSG_ERROR = 2
SO_RCVBUFFORCE = 33


def message(kind, queue, attrs, seq=0):
    body = struct.pack("!BBH", socket.AF_UNSPEC, 0, queue)
    for attr_type, payload in attrs:
        attr = struct.pack("=HH", 4 + len(payload), attr_type) + payload
        body += attr + b"\0" * (-len(attr) % 4)
    return struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | kind, 1, seq,
                       0) + body


def packet_ids(data):
    """The ids of the queued packets in one netlink read."""
    off = 0
    while off + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, off)
        if length < 16:
            return
        if kind == NLMSG_ERROR:
            err = struct.unpack_from("=i", data, off + 16)[0]
            if err:
                print(f"shaper: netlink error {err}", file=sys.stderr, flush=True)
        elif kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
            a = off + 20
            while a + 4 <= off + length:
                alen, atype = struct.unpack_from("=HH", data, a)
                if alen < 4:
                    break
                if atype & 0x3FFF == NFQA_PACKET_HDR:
                    yield struct.unpack_from("!I", data, a + 4)[0]
                    break
                a += (alen + 3) & ~3
        off += (length + 3) & ~3


class Loss:
    """Decides, packet by packet, which ones are lost."""

    def __init__(self, percent, burst, rng):
        self.p = percent / 100.0
        self.rng = rng
        self.bad = False
        # bad -> good with 1/burst per packet (mean stay: burst packets); good -> bad such
        # that the bad state's share of packets is p.
        self.leave = 1.0 / burst if burst > 1 else 1.0
        self.enter = self.p * self.leave / (1.0 - self.p) if self.p < 1.0 else 1.0

    def lost(self):
        if self.p <= 0:
            return False
        if self.leave >= 1.0:              # random: each packet on its own
            return self.rng.random() < self.p
        if self.bad:
            self.bad = self.rng.random() >= self.leave
        else:
            self.bad = self.rng.random() < self.enter
        return self.bad


def main():
    parser = argparse.ArgumentParser(description="delay and drop queued packets")
    parser.add_argument("--queue", type=int, default=7)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--loss", type=float, default=0.0, help="percent of packets lost")
    parser.add_argument("--burst", type=float, default=1.0, help="mean length of a loss burst")
    parser.add_argument("--seed", type=int)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
    sock.bind((0, 0))
    sock.send(message(NFQNL_MSG_CONFIG, args.queue,
                      [(NFQA_CFG_CMD, struct.pack("!BBH", NFQNL_CFG_CMD_BIND, 0, 0))]))
    sock.send(message(NFQNL_MSG_CONFIG, args.queue,
                      [(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META))]))
    sock.setblocking(False)
    delay = args.delay_ms / 1000.0
    loss = Loss(args.loss, args.burst, random.Random(args.seed))
    pending = collections.deque()      # (due time, packet id), in arrival order
    seq = 0
    print("shaping", flush=True)
    while True:
        timeout = max(0.0, pending[0][0] - time.monotonic()) if pending else 1.0
        if select.select([sock], [], [], timeout)[0]:
            while True:
                try:
                    data = sock.recv(1 << 20)
                except BlockingIOError:
                    break
                arrived = time.monotonic()
                for pid in packet_ids(data):
                    if loss.lost():
                        seq += 1
                        sock.send(message(NFQNL_MSG_VERDICT, args.queue,
                                          [(NFQA_VERDICT_HDR, struct.pack("!II", NF_DROP, pid))],
                                          seq=seq))
                    else:
                        pending.append((arrived + delay, pid))
        now = time.monotonic()
        last = None
        while pending and pending[0][0] <= now:
            last = pending.popleft()[1]
        if last is not None:
            # accepts every packet up to LAST still waiting (the dropped ones are gone)
            seq += 1
            sock.send(message(NFQNL_MSG_VERDICT_BATCH, args.queue,
                              [(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, last))], seq=seq))


if __name__ == "__main__":
    main()
