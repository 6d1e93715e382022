# wzplab: the project's network lab, a small internet of Linux network namespaces with home
# NATs, a carrier-grade NAT, two relays and routed IPv6 (docs/testing.md, "The network lab").
# The command is tests/netlab/netlab; each concept has a module of its own:
#
#   plan       host names, namespaces, addresses: the lab's map
#   netns      the few namespace operations, always inside the lab's own namespaces
#   lock       the machine-wide lock every lab user holds
#   ruleset    the nftables rules of a NAT router
#   conntrack  forgetting a router's NAT mappings (netlink, run inside its namespace)
#   lab        building, reconfiguring and removing the lab, its state and status
#   wan        added delay and loss on the WAN router
#   shaper     the process that delays and drops the WAN router's packets (NFQUEUE)
#   probes     small bounded UDP/TCP helpers run inside the hosts
#   selftest   the lab's own checks
#   cli        the command line
#
# SPDX-License-Identifier: GPL-3.0-or-later
