# ruleset.py: the nftables rules of one NAT router, as text for `nft -f -`.
#
# IPv4: masquerade on wan0; "cone" keeps the internal port when it can (an endpoint-
# independent mapping), "symmetric" takes a fresh random port for every flow (fully-random:
# each destination sees another port). Filtering is conntrack's in both modes: only replies
# from the exact remote address and port come in (address-and-port-dependent).
#
# Unsolicited packets to the WAN side are dropped, never rejected, and dropped in a filter
# hook, before conntrack confirms their entry: an ICMP error or a confirmed inbound entry
# would make the router move the later outbound flow of a hole punch to another port.
#
# Hairpinning (LAN host -> the router's own public address and a mapped port) has no lookup
# in Linux NAT, so with hairpin on the router learns "public port -> internal address and
# port" from its outbound packets after masquerade (a chain at srcnat + 10), into maps that
# a prerouting DNAT reads; the hairpinned packet's source becomes the public address.
# Without it such a packet reaches the router itself, and nothing else.
#
# IPv6 is routed without NAT through a stateful firewall: out, and replies in; `v6_open`
# lets every inbound packet in.
#
# SPDX-License-Identifier: GPL-3.0-or-later

NAT_TABLE = "wzplab_nat"
FILTER_TABLE = "wzplab_fw"

# How long the hairpin maps remember a mapping: about conntrack's own lifetimes.
HAIRPIN_UDP_TIMEOUT = "60s"
HAIRPIN_TCP_TIMEOUT = "300s"


def _hairpin_maps():
    lines = []
    for proto, timeout in (("udp", HAIRPIN_UDP_TIMEOUT), ("tcp", HAIRPIN_TCP_TIMEOUT)):
        lines += [f"\tmap hp_{proto} {{",
                  "\t\ttype inet_service : ipv4_addr . inet_service",
                  "\t\tflags dynamic,timeout",
                  f"\t\ttimeout {timeout}",
                  "\t\tsize 65535",
                  "\t}"]
    return lines


def text(router, mode, hairpin, v6_open):
    """The whole ruleset of ROUTER (plan.Router): replaces the lab's tables in one go."""
    wan = router.wan4
    masquerade = "masquerade fully-random" if mode == "symmetric" else "masquerade"
    out = [f"# wzplab {router.name}: nat={mode} hairpin={'on' if hairpin else 'off'} "
           f"v6={'open' if v6_open else 'stateful'}",
           # create-then-delete: replacing works whether the tables exist or not
           f"table ip {NAT_TABLE}", f"delete table ip {NAT_TABLE}",
           f"table inet {FILTER_TABLE}", f"delete table inet {FILTER_TABLE}",
           f"table ip {NAT_TABLE} {{"]
    if hairpin:
        out += _hairpin_maps()
    out += ["\tchain pre {", "\t\ttype nat hook prerouting priority dstnat; policy accept;"]
    if hairpin:
        out += [f'\t\tiifname "br-lan" ip daddr {wan} meta l4proto {p} '
                f"dnat ip to {p} dport map @hp_{p}" for p in ("udp", "tcp")]
    out += ["\t}", "\tchain post {",
            "\t\ttype nat hook postrouting priority srcnat; policy accept;"]
    if hairpin:
        out += [f'\t\toifname "br-lan" ip saddr {router.lan_net} ct status dnat snat ip to {wan}']
    out += [f'\t\toifname "wan0" {masquerade}', "\t}"]
    if hairpin:
        out += ["\tchain learn {",
                "\t\ttype filter hook postrouting priority srcnat + 10; policy accept;"]
        out += [f'\t\toifname "wan0" ct direction original meta l4proto {p} update @hp_{p} '
                f"{{ {p} sport : ct original ip saddr . ct original proto-src }}"
                for p in ("udp", "tcp")]
        out += ["\t}"]
    out += ["}",
            f"table inet {FILTER_TABLE} {{",
            "\tchain local_in {",
            "\t\ttype filter hook input priority filter; policy accept;",
            '\t\tiifname "wan0" ct state established,related accept',
            '\t\tiifname "wan0" meta l4proto { icmp, ipv6-icmp } accept',
            '\t\tiifname "wan0" counter drop',
            "\t}",
            "\tchain routed {",
            "\t\ttype filter hook forward priority filter; policy drop;",
            "\t\tct state established,related accept",
            "\t\tct state invalid drop",
            '\t\tiifname "br-lan" accept']
    if v6_open:
        out += ['\t\tiifname "wan0" meta nfproto ipv6 accept']
    out += ["\t\tcounter", "\t}", "}"]
    return "\n".join(out) + "\n"
