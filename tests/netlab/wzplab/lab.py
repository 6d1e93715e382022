# lab.py: building the lab, reconfiguring it in place, removing it; its state and status.
#
# The lab's settings live in the lab itself, as the alias of the wan router's br-dc
# ("wzplab nat1=cone nat2=cone nat3=cone hairpin=off v6=stateful"), so that every command,
# from any process, sees what is up. A lab with a namespace missing, or no settings, is
# half-built (a crash): `up` removes and rebuilds it.
#
# SPDX-License-Identifier: GPL-3.0-or-later

import os
import shutil
import sys

from . import netns, plan, ruleset
from .netns import LabError

HERE = os.path.dirname(os.path.abspath(__file__))
STATE_DEV = "br-dc"
STATE_TAG = "wzplab"

HOST_SYSCTLS = {
    "net.ipv6.conf.all.accept_dad": 0, "net.ipv6.conf.default.accept_dad": 0,
    "net.ipv6.conf.all.accept_ra": 0, "net.ipv6.conf.default.accept_ra": 0,
    "net.ipv6.conf.all.disable_ipv6": 0, "net.ipv6.conf.default.disable_ipv6": 0,
    "net.ipv4.conf.all.rp_filter": 0, "net.ipv4.conf.default.rp_filter": 0,
    # br_netfilter, when the machine has it loaded, would push bridged frames through the
    # lab's rulesets: off in every lab namespace (these knobs are per namespace)
    "net.bridge.bridge-nf-call-iptables": 0, "net.bridge.bridge-nf-call-ip6tables": 0,
    "net.bridge.bridge-nf-call-arptables": 0,
}
ROUTER_SYSCTLS = {"net.ipv4.ip_forward": 1, "net.ipv6.conf.all.forwarding": 1,
                  "net.ipv6.conf.default.forwarding": 1,
                  "net.ipv4.conf.all.send_redirects": 0,
                  "net.ipv4.conf.default.send_redirects": 0}
END_SYSCTLS = {"net.ipv4.conf.all.accept_redirects": 0,
               "net.ipv6.conf.all.accept_redirects": 0}


class Settings:
    """What `up` was asked for: a mode per NAT router, hairpinning, the IPv6 firewall."""

    def __init__(self, nat="cone", per_router=None, hairpin=False, v6_open=False):
        self.modes = {r.name: (per_router or {}).get(r.name) or nat for r in plan.ROUTERS}
        self.hairpin = hairpin
        self.v6_open = v6_open
        for mode in self.modes.values():
            if mode not in plan.NAT_MODES:
                raise LabError(f"NAT mode must be cone or symmetric, not '{mode}'")

    def text(self):
        modes = " ".join(f"{name}={mode}" for name, mode in self.modes.items())
        return (f"{modes} hairpin={'on' if self.hairpin else 'off'} "
                f"v6={'open' if self.v6_open else 'stateful'}")

    @classmethod
    def parse(cls, text):
        kv = dict(item.split("=", 1) for item in text.split() if "=" in item)
        return cls(per_router={r.name: kv.get(r.name) for r in plan.ROUTERS},
                   hairpin=kv.get("hairpin") == "on", v6_open=kv.get("v6") == "open")

    def __eq__(self, other):
        return isinstance(other, Settings) and self.text() == other.text()


def say(text):
    print(text, flush=True)


def namespaces():
    return [plan.namespace(h) for h in plan.HOSTS]


def present():
    have = netns.existing()
    return [ns for ns in namespaces() if ns in have]


def _alias(ns, dev):
    r = netns.ip(ns, "-o", "link", "show", "dev", dev, check=False)
    if r.returncode != 0 or " alias " not in r.stdout:
        return None
    return r.stdout.split(" alias ", 1)[1].strip()


def settings():
    """The running lab's Settings, or None when no complete lab is up."""
    if len(present()) != len(plan.HOSTS):
        return None
    alias = _alias(plan.namespace("wan"), STATE_DEV)
    if not alias or not alias.startswith(STATE_TAG + " "):
        return None
    return Settings.parse(alias[len(STATE_TAG) + 1:])


# ------------------------------------------------------------------------------ building

def _new_host(host, router):
    ns = plan.namespace(host)
    netns.add(ns)
    values = dict(HOST_SYSCTLS)
    values.update(ROUTER_SYSCTLS if router else END_SYSCTLS)
    netns.write_sysctls(ns, values)
    return ns


def _attach(up_ns, bridge, port, ns, dev, addrs, gw4, gw6):
    """A veth from bridge BRIDGE of UP_NS (port name PORT) to DEV in NS, with ADDRS."""
    netns.veth(up_ns, port, ns, dev)
    netns.write_sysctls(up_ns, {f"net.ipv6.conf.{port}.accept_dad": 0})
    netns.write_sysctls(ns, {f"net.ipv6.conf.{dev}.accept_dad": 0})
    netns.ip(up_ns, "link", "set", port, "master", bridge, "up")
    netns.addresses(ns, dev, *addrs)
    netns.ip(ns, "link", "set", dev, "up")
    netns.ip(ns, "route", "add", "default", "via", gw4)
    netns.ip(ns, "-6", "route", "add", "default", "via", gw6)


def _build():
    wan = _new_host("wan", router=True)
    for dev, a4, a6 in (plan.WAN_DC, plan.WAN_ISP):
        netns.bridge(wan, dev)
        netns.addresses(wan, dev, a4, a6)
    for relay in plan.RELAYS:
        ns = _new_host(relay.name, router=False)
        _attach(wan, "br-dc", relay.name, ns, "eth0", (relay.addr4 + "/24", relay.addr6 + "/64"),
                plan.bare(plan.WAN_DC[1]), plan.bare(plan.WAN_DC[2]))
    for r in plan.ROUTERS:
        ns = _new_host(r.name, router=True)
        _attach(wan, "br-isp", r.name, ns, "wan0", (r.wan4 + "/24", r.wan6 + "/64"),
                plan.WAN_GW4, plan.WAN_GW6)
        netns.bridge(ns, "br-lan")
        netns.addresses(ns, "br-lan", r.lan4, *r.lan6)
        # the ISP routes each site's global /64 to its router; ULA and private IPv4 are not
        # routed anywhere, as on the internet
        site = r.lan6[0].split("::", 1)[0] + "::/64"
        netns.ip(wan, "-6", "route", "add", site, "via", r.wan6)
    for c in plan.CLIENTS:
        r = plan.router(c.router)
        ns = _new_host(c.name, router=False)
        _attach(plan.namespace(r.name), "br-lan", c.name, ns, "eth0", (c.addr4, *c.addr6),
                plan.bare(r.lan4), plan.bare(r.lan6[0]))


def _apply(wanted):
    for r in plan.ROUTERS:
        rules = ruleset.text(r, wanted.modes[r.name], wanted.hairpin, wanted.v6_open)
        netns.inside(plan.namespace(r.name), "nft", "-f", "-", input=rules)
    netns.ip(plan.namespace("wan"), "link", "set", "dev", STATE_DEV, "alias",
             f"{STATE_TAG} {wanted.text()}")


def up(wanted):
    """Brings the lab up with WANTED settings: nothing to do if it runs so already, the
    rules replaced in place (and mappings forgotten) if it runs otherwise, built anew if it
    is down or half-built. A failed build leaves nothing behind."""
    current = settings()
    if current is not None:
        if current == wanted:
            say(f"netlab: already up ({wanted.text()})")
            return
        _apply(wanted)
        flush([r.name for r in plan.ROUTERS])
        say(f"netlab: reconfigured ({current.text()} -> {wanted.text()}); mappings forgotten")
        return
    if present():
        say("netlab: a half-built lab is in the way; removing it")
        down(kill=True)
    try:
        _build()
        _apply(wanted)
    except BaseException:
        down(kill=True, quiet=True)
        raise
    say(f"netlab: up ({wanted.text()})")


def down(kill=False, quiet=False):
    """Removes every lab namespace. Processes still inside are ended by PID with KILL (or
    the namespace lives on, nameless and cut off, until they exit)."""
    from . import wan
    found = present()
    wan.stop_shaper()
    for ns in found:
        left = netns.pids(ns)
        if left and kill:
            netns.end_processes(ns)
        elif left and not quiet:
            print(f"netlab: warning: processes still run in {ns} ({' '.join(map(str, left))}); "
                  "it lives on, detached, until they exit", file=sys.stderr)
        netns.delete(ns)
    if not quiet:
        say("netlab: down" if found else "netlab: not up")


def flush(routers):
    for name in routers:
        netns.inside(plan.namespace(name), sys.executable, os.path.join(HERE, "conntrack.py"))


def exec_argv(host, argv):
    name = plan.host_name(host)
    if name is None:
        raise LabError(f"unknown host '{host}' (hosts: {' '.join(plan.HOSTS)}, cgn = nat3)")
    ns = plan.namespace(name)
    if ns not in netns.existing():
        raise LabError(f"{ns} does not exist (run 'netlab up' first)")
    return ["ip", "netns", "exec", ns, *argv]


# ------------------------------------------------------------------------------ looking

def status():
    from . import wan
    found = present()
    if not found:
        say("netlab: down")
        return
    current = settings()
    say(f"netlab: up ({current.text()})" if current else
        "netlab: half-built (run 'netlab down' or 'netlab up')")
    if current:
        for name, mode in current.modes.items():
            say(f"  {name}: " + ("cone: one mapping per internal socket, port kept when free"
                                 if mode == "cone" else
                                 "symmetric: a random port for every flow"))
        say("  IPv4 filtering: address and port dependent; unsolicited inbound dropped")
        say(f"  hairpinning: {'on' if current.hairpin else 'off'}")
        say("  IPv6: routed, " + ("inbound open" if current.v6_open else
                                  "stateful firewall (out, and replies in)"))
    say(f"  WAN: {wan.describe()}")
    say(f"  {'host':<7} {'namespace':<11} {'dev':<7} {'IPv4':<20} IPv6")
    for host in plan.HOSTS:
        ns = plan.namespace(host)
        if ns not in found:
            say(f"  {host:<7} {ns:<11} (missing)")
            continue
        r = netns.ip(ns, "-o", "addr", "show", "scope", "global", check=False)
        per_dev = {}
        for line in r.stdout.splitlines():
            fields = line.split()
            per_dev.setdefault(fields[1], []).append(fields[3].split("/")[0])
        for dev, addrs in sorted(per_dev.items()):
            v4 = ",".join(a for a in addrs if ":" not in a)
            v6 = ",".join(a for a in addrs if ":" in a)
            say(f"  {host:<7} {ns:<11} {dev:<7} {v4:<20} {v6}")
    for r in plan.ROUTERS:
        ns = plan.namespace(r.name)
        if ns in found:
            count = netns.inside(ns, "cat", "/proc/sys/net/netfilter/nf_conntrack_count",
                                 check=False).stdout.strip() or "?"
            say(f"  {r.name} conntrack entries: {count}")


def unusable_reason():
    """Why the lab cannot run on this machine, or None. Tries what it needs in a short-lived
    namespace of its own."""
    if os.geteuid() != 0:
        return "not root (network namespaces and nftables need it)"
    for tool, package in (("ip", "iproute2"), ("nft", "nftables")):
        if shutil.which(tool) is None:
            return f"'{tool}' is missing (Debian package {package})"
    if netns.run("ip", "netns", "list", check=False).returncode != 0:
        return "'ip netns' does not work here"
    if settings() is not None:
        return None
    ns = f"{plan.PREFIX}check-{os.getpid()}"
    try:
        netns.add(ns)
    except LabError as e:
        return f"cannot create a network namespace: {e}"
    try:
        steps = (
            ("veth interfaces", ("ip", "-n", ns, "link", "add", "c0", "type", "veth",
                                 "peer", "name", "c1")),
            ("bridges", ("ip", "-n", ns, "link", "add", "cb", "type", "bridge")),
        )
        for what, argv in steps:
            if netns.run(*argv, check=False).returncode != 0:
                return f"cannot create {what} in a namespace"
        rules = ruleset.text(plan.ROUTERS[0], "symmetric", True, False)
        r = netns.inside(ns, "nft", "-f", "-", input=rules, check=False)
        if r.returncode != 0:
            return f"nftables NAT rules (fully-random masquerade, dynamic maps) fail: " \
                   f"{r.stderr.strip()[:200]}"
    finally:
        netns.delete(ns)
    return None
