#!/usr/bin/env python3
# check-relay-layering.py: the relay uses no client code (docs/decisions.md, "The relay's
# parties are endpoints").
#
# Usage: check-relay-layering.py NM OBJECT_DIR [--graph]
#
# OBJECT_DIR holds the library's object files (libwzp-glib-internal.a.p). Every symbol a
# relay object (wzp-relay*.c.o) leaves undefined must not be one a client object defines:
# the relay and the client share the protocol and network layers below them, never each
# other. Exits 1 naming each such reference.
#
# --graph prints instead which relay file calls which, and the groups of files that call
# each other in a cycle (docs/decisions.md, "What the relay's files call").
#
# SPDX-License-Identifier: GPL-3.0-or-later

import fnmatch
import os
import subprocess
import sys

CLIENT = ['wzp-client*.c.o', 'wzp-call*.c.o', 'wzp-race.c.o', 'wzp-path.c.o',
          'wzp-known-relays.c.o']
RELAY = ['wzp-relay*.c.o']


def objects(directory, patterns):
    return sorted(name for name in os.listdir(directory)
                  if any(fnmatch.fnmatch(name, p) for p in patterns))


def symbols(nm, path, undefined):
    flag = '--undefined-only' if undefined else '--defined-only'
    out = subprocess.run([nm, flag, '-P', path], check=True, capture_output=True,
                         text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def graph(nm, directory, relay):
    defined = {}
    for name in relay:
        for symbol in symbols(nm, os.path.join(directory, name), False):
            defined[symbol] = name
    calls = {}
    for name in relay:
        used = symbols(nm, os.path.join(directory, name), True)
        calls[name] = sorted({defined[s] for s in used if s in defined} - {name})
        print(name[:-4], '->', ' '.join(callee[:-4] for callee in calls[name]))

    # Tarjan's strongly connected components: each one of more than one file is a cycle.
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(name):
        index[name] = low[name] = len(index)
        stack.append(name)
        on_stack.add(name)
        for callee in calls[name]:
            if callee not in index:
                visit(callee)
                low[name] = min(low[name], low[callee])
            elif callee in on_stack:
                low[name] = min(low[name], index[callee])
        if low[name] == index[name]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member[:-4])
                if member == name:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for name in relay:
        if name not in index:
            visit(name)
    for group in groups:
        print('cycle:', ' '.join(group))
    return 0


def main():
    nm, directory = sys.argv[1], sys.argv[2]
    relay = objects(directory, RELAY)
    client = objects(directory, CLIENT)
    if '--graph' in sys.argv[3:]:
        return graph(nm, directory, relay)
    if not relay or not client:
        print(f'no relay or no client objects in {directory}', file=sys.stderr)
        return 1

    defined = {}
    for name in client:
        for symbol in symbols(nm, os.path.join(directory, name), False):
            defined[symbol] = name

    bad = 0
    for name in relay:
        for symbol in sorted(symbols(nm, os.path.join(directory, name), True)):
            if symbol in defined:
                print(f'{name} uses {symbol} from {defined[symbol]}')
                bad += 1
    if bad:
        print(f'{bad} use(s) of client code by the relay', file=sys.stderr)
        return 1
    print(f'{len(relay)} relay objects, {len(client)} client objects: no use')
    return 0


if __name__ == '__main__':
    sys.exit(main())
