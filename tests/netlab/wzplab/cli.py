# cli.py: the `netlab` command (tests/netlab/netlab; docs/testing.md, "The network lab").
#
# SPDX-License-Identifier: GPL-3.0-or-later

import argparse
import os
import sys

from . import lab, lock, plan, wan
from .netns import LabError

USAGE = """netlab COMMAND ...

  up [--nat cone|symmetric] [--nat1|--nat2|--nat3 MODE] [--hairpin on|off] [--v6-open]
        build the lab, or bring the running one to these settings in place
  down [--kill]       remove the lab (--kill: end the processes still inside, by PID)
  exec HOST [--] CMD  run CMD in HOST: """ + " ".join(plan.HOSTS) + """ (cgn = nat3)
  status              settings, addresses, WAN delay and loss, conntrack entries
  flush [nat1 nat2 nat3]   forget the NAT mappings of these routers (default: all)
  wan [--delay-ms N] [--loss PCT] [--burst N] [--seed S] | --off   [--namespace NS]
        one-way delay and random (or bursty: mean burst N packets) loss on the WAN router
        (--namespace: the WAN router of another lab with the same plan)
  check               exit 0 if the lab can run here, else say why and exit 77
  selftest [--all | up's options]   the lab's own checks (exit 77 when it cannot run)

up, down, flush, wan and selftest hold /tmp/wzp-netlab.lock (re-entrant for the children
of its holder)."""


def _mode_options(p):
    p.add_argument("--nat", default="cone", choices=plan.NAT_MODES)
    for r in plan.ROUTERS:
        p.add_argument(f"--{r.name}", choices=plan.NAT_MODES)
    p.add_argument("--hairpin", default="off", choices=("on", "off"))
    p.add_argument("--v6-open", action="store_true")


def _settings(args):
    return lab.Settings(args.nat, {r.name: getattr(args, r.name) for r in plan.ROUTERS},
                        args.hairpin == "on", args.v6_open)


def _mode_given(argv):
    return any(a.startswith("--nat") or a.startswith("--hairpin") or a == "--v6-open"
               for a in argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print("usage: " + USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]

    if command == "exec":
        if rest[1:2] and rest[1] == "--":
            rest = [rest[0]] + rest[2:]
        if len(rest) < 2:
            print("usage: netlab exec HOST [--] CMD...", file=sys.stderr)
            return 2
        try:
            full = lab.exec_argv(rest[0], rest[1:])
        except LabError as e:
            print(f"netlab: {e}", file=sys.stderr)
            return 1
        os.execvp(full[0], full)   # the PID a caller holds is its command's

    if command == "check":
        reason = lab.unusable_reason()
        if reason:
            print(f"netlab: unusable: {reason}")
            return 77
        extra = wan.unusable_reason()
        print("netlab: usable" + (f" (no WAN delay or loss: {extra})" if extra else ""))
        return 0

    parser = argparse.ArgumentParser(prog=f"netlab {command}")
    if command in ("up", "selftest"):
        _mode_options(parser)
    if command == "selftest":
        parser.add_argument("--all", action="store_true",
                            help="every mode in turn, and the WAN's delay and loss")
    elif command == "down":
        parser.add_argument("--kill", action="store_true")
    elif command == "flush":
        parser.add_argument("routers", nargs="*", metavar="ROUTER")
    elif command == "wan":
        parser.add_argument("--delay-ms", type=float, default=0.0)
        parser.add_argument("--loss", type=float, default=0.0)
        parser.add_argument("--burst", type=float, default=1.0)
        parser.add_argument("--seed", type=int)
        parser.add_argument("--off", action="store_true")
        parser.add_argument("--namespace", help="the WAN router of another lab with this plan")
    elif command not in ("status", "up"):
        print(f"netlab: unknown command '{command}'\nusage: " + USAGE, file=sys.stderr)
        return 2
    args = parser.parse_args(rest)

    if command == "selftest":
        from . import selftest
        return selftest.main(_settings(args) if _mode_given(rest) else None, args.all)
    if os.geteuid() != 0:
        print("netlab: needs root", file=sys.stderr)
        return 1
    try:
        if command == "status":
            lab.status()
            return 0
        with lock.held(say=lambda m: print(f"netlab: {m}", file=sys.stderr)):
            if command == "up":
                lab.up(_settings(args))
            elif command == "down":
                lab.down(kill=args.kill)
            elif command == "flush":
                if lab.settings() is None:
                    raise LabError("the lab is not up")
                routers = ([plan.host_name(r) for r in args.routers] or
                           [r.name for r in plan.ROUTERS])
                if not set(routers) <= {r.name for r in plan.ROUTERS}:
                    raise LabError(f"flush: not NAT routers: {' '.join(args.routers)}")
                lab.flush(routers)
                print(f"netlab: forgot the NAT mappings of {' '.join(routers)}")
            elif command == "wan":
                if args.namespace:
                    wan.use_namespace(args.namespace)
                if args.off:
                    args.delay_ms = args.loss = 0
                wan.set(args.delay_ms, args.loss, args.burst, args.seed)
                print(f"netlab: WAN: {wan.describe()}")
    except (LabError, TimeoutError) as e:
        print(f"netlab: {e}", file=sys.stderr)
        return 1
    return 0
