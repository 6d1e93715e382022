#!/usr/bin/python3
# conntrack.py: forgets every connection-tracking entry (so every NAT mapping) of the
# namespace it runs in, like a router that reboots. One netlink request, ctnetlink's delete
# without a tuple: no conntrack tool needed. Run inside a lab namespace:
#   ip netns exec wzn-nat1 python3 conntrack.py
#
# SPDX-License-Identifier: GPL-3.0-or-later

import socket
import struct
import sys

NETLINK_NETFILTER = 12
NFNL_SUBSYS_CTNETLINK = 1
IPCTNL_MSG_CT_DELETE = 2
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2


def flush():
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER) as sock:
        sock.bind((0, 0))
        body = struct.pack("!BBH", socket.AF_UNSPEC, 0, 0)   # nfgenmsg: every family
        header = struct.pack("=IHHII", 16 + len(body),
                             (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE,
                             NLM_F_REQUEST | NLM_F_ACK, 1, 0)
        sock.send(header + body)
        sock.settimeout(5)
        reply = sock.recv(4096)
        _, kind = struct.unpack_from("=IH", reply)
        if kind == NLMSG_ERROR:
            err = struct.unpack_from("=i", reply, 16)[0]
            if err not in (0, -2):     # ENOENT: there was nothing to forget
                raise OSError(-err, "ctnetlink flush failed")


if __name__ == "__main__":
    try:
        flush()
    except OSError as e:
        print(f"conntrack flush: {e}", file=sys.stderr)
        sys.exit(1)
