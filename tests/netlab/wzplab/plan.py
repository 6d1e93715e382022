# plan.py: the lab's map. Host names and the address plan are the ones the project's tests
# were written against (docs/testing.md, "The network lab"); the namespaces carry a prefix
# of their own, so that this lab and another one can exist on one machine.
#
# SPDX-License-Identifier: GPL-3.0-or-later

from dataclasses import dataclass

PREFIX = "wzn-"

RELAY_A = "203.0.113.10"
RELAY_B = "203.0.113.20"
RELAY_A6 = "2001:db8:ffff::10"
RELAY_B6 = "2001:db8:ffff::20"

# The "internet" router: the data-centre segment with the relays, the access segment with
# the NAT routers' WAN sides.
WAN_DC = ("br-dc", "203.0.113.1/24", "2001:db8:ffff::1/64")
WAN_ISP = ("br-isp", "198.51.100.254/24", "2001:db8:fffe::fe/64")
WAN_GW4 = "198.51.100.254"
WAN_GW6 = "2001:db8:fffe::fe"


@dataclass(frozen=True)
class Router:
    name: str
    wan4: str          # public address on wan0 (/24)
    wan6: str          # address on wan0 (/64)
    lan4: str          # the router's LAN address with prefix length
    lan_net: str       # the LAN's IPv4 network
    lan6: tuple        # the router's LAN addresses: a routed /64 first, then ULA


@dataclass(frozen=True)
class Client:
    name: str
    router: str
    addr4: str         # with prefix length
    addr6: tuple       # with prefix length


@dataclass(frozen=True)
class Relay:
    name: str
    addr4: str
    addr6: str


RELAYS = (Relay("relayA", RELAY_A, RELAY_A6), Relay("relayB", RELAY_B, RELAY_B6))

ROUTERS = (
    Router("nat1", "198.51.100.1", "2001:db8:fffe::1", "192.168.88.1/24", "192.168.88.0/24",
           ("2001:db8:1::1/64", "fd00:1::1/64")),
    Router("nat2", "198.51.100.2", "2001:db8:fffe::2", "10.0.2.1/24", "10.0.2.0/24",
           ("2001:db8:2::1/64", "fd00:2::1/64")),
    # the carrier-grade NAT: shared address space (RFC 6598), no ULA
    Router("nat3", "198.51.100.3", "2001:db8:fffe::3", "100.64.0.1/10", "100.64.0.0/10",
           ("2001:db8:3::1/64",)),
)

CLIENTS = (
    Client("lan1a", "nat1", "192.168.88.21/24", ("2001:db8:1::21/64", "fd00:1::21/64")),
    Client("lan1b", "nat1", "192.168.88.22/24", ("2001:db8:1::22/64", "fd00:1::22/64")),
    Client("lan2a", "nat2", "10.0.2.21/24", ("2001:db8:2::21/64", "fd00:2::21/64")),
    Client("lan3a", "nat3", "100.64.0.21/10", ("2001:db8:3::21/64",)),
)

# In the order they are built (the wan router first: everything hangs off it).
HOSTS = ("wan", "relayA", "relayB", "nat1", "lan1a", "lan1b", "nat2", "lan2a", "nat3", "lan3a")
ALIASES = {"cgn": "nat3", "relaya": "relayA", "relayb": "relayB"}

NAT_MODES = ("cone", "symmetric")


def router(name):
    return next(r for r in ROUTERS if r.name == name)


def host_name(text):
    """The host a user means by TEXT (a host, an alias, or a namespace name), or None."""
    if text.startswith(PREFIX):
        text = text[len(PREFIX):]
    text = ALIASES.get(text, text)
    return text if text in HOSTS else None


def namespace(host):
    return PREFIX + host


def bare(addr):
    """An address without its prefix length."""
    return addr.split("/", 1)[0]
