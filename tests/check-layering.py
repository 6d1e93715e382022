#!/usr/bin/env python3
# check-layering.py: the library's layers only call down (docs/architecture.md, "Layers").
#
# Usage: check-layering.py SOURCE_DIR NM BUILD_DIR [--cycles]
#
# SOURCE_DIR is libwzp-glib/ and BUILD_DIR its build folder. A layer is a folder: from the
# bottom base/, net/, protocol/, then client/ and relay/ side by side (neither uses the
# other). The public headers at the top belong to the layer of the code they declare (the
# table PUBLIC_HEADERS below). Two checks:
#  - includes: a file includes only headers of its own layer or of layers below;
#  - symbols: the symbols an object file leaves undefined are defined by objects of its
#    own layer or below (nm on each layer's static library objects in BUILD_DIR).
# The build already keeps most of this (a layer's include path and link line hold only
# the layers below); this test also sees what a header included by name or a symbol
# resolved by the final shared library would hide. Exits 1 naming each offence.
#
# --cycles prints instead, for each folder, the groups of its files that call each other
# in a cycle (files of one object, mostly; docs/architecture.md says which and why).
#
# SPDX-License-Identifier: GPL-3.0-or-later

import os
import re
import subprocess
import sys

RANK = {'base': 0, 'net': 1, 'protocol': 2, 'media': 3, 'client': 4, 'relay': 4,
        'umbrella': 5}
# Which layers may use which, beyond "lower rank": none. Which may never, despite rank:
NEVER = {('relay', 'client'), ('client', 'relay'), ('relay', 'media')}

# The public headers stay where users include them, at the top of libwzp-glib/.
PUBLIC_HEADERS = {
    'wzp-glib.h': 'umbrella',
    'wzp-types.h': 'base', 'wzp-enums.h': 'base', 'wzp-error.h': 'base',
    'wzp-version.h': 'base', 'wzp-version.h.in': 'base', 'wzp-enum-types.h': 'base',
    'wzp-identity.h': 'net',
    'wzp-relay-uri.h': 'protocol',
    'wzp-audio-devices.h': 'media',
    'wzp-call.h': 'client', 'wzp-client.h': 'client',
    'wzp-relay.h': 'relay',
}


def may_use(user, used):
    if user == used:
        return True
    if (user, used) in NEVER:
        return False
    return RANK[used] < RANK[user]


def source_files(source_dir):
    """(layer, path) of every source and header; a file outside any layer fails."""
    for name in sorted(os.listdir(source_dir)):
        path = os.path.join(source_dir, name)
        if os.path.isdir(path) and name in RANK:
            for sub in sorted(os.listdir(path)):
                if sub.endswith(('.c', '.h')):
                    yield name, os.path.join(path, sub)
        elif name.endswith(('.c', '.h', '.h.in')):
            yield PUBLIC_HEADERS.get(name), path


def check_includes(source_dir, offences):
    files = list(source_files(source_dir))
    layer_of_header = {os.path.basename(p): layer for layer, p in files if layer}
    layer_of_header.update(PUBLIC_HEADERS)
    include = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
    for user, path in files:
        name = os.path.relpath(path, source_dir)
        if user is None:
            offences.append(f'{name}: belongs to no layer (a folder, or PUBLIC_HEADERS in '
                            f'{os.path.basename(__file__)})')
            continue
        with open(path, encoding='utf-8') as f:
            text = f.read()
        for header in include.findall(text):
            used = layer_of_header.get(os.path.basename(header))
            if used is not None and not may_use(user, used):
                offences.append(f'{name} ({user}) includes {header} ({used})')


def symbols(nm, path, undefined):
    flag = '--undefined-only' if undefined else '--defined-only'
    out = subprocess.run([nm, flag, '-P', path], check=True, capture_output=True,
                         text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def objects(build_dir):
    """(layer, object path) of each layer's library objects: BUILD_DIR/LAYER/*.a.p/*.o"""
    found = []
    for layer in RANK:
        layer_dir = os.path.join(build_dir, layer)
        if not os.path.isdir(layer_dir):
            continue
        for sub in sorted(os.listdir(layer_dir)):
            if sub.endswith('.a.p'):
                for obj in sorted(os.listdir(os.path.join(layer_dir, sub))):
                    if obj.endswith('.o'):
                        found.append((layer, os.path.join(layer_dir, sub, obj)))
    return found


def short(obj):
    return os.path.basename(obj)[:-2].replace('meson-generated_.._', '')


def check_symbols(nm, build_dir, offences):
    found = objects(build_dir)
    if not any(layer == 'relay' for layer, _ in found):
        offences.append(f'no layer objects under {build_dir}: build the library first')
        return
    defined = {}
    for layer, obj in found:
        for sym in symbols(nm, obj, False):
            defined[sym] = (layer, obj)
    for user, obj in found:
        for sym in sorted(symbols(nm, obj, True)):
            if sym not in defined:
                continue
            used, owner = defined[sym]
            if not may_use(user, used):
                offences.append(f'{user}/{short(obj)} uses {sym} of {used}/{short(owner)}')


def cycles(nm, build_dir):
    found = objects(build_dir)
    defined = {}
    for _, obj in found:
        for sym in symbols(nm, obj, False):
            defined[sym] = obj
    calls = {obj: {defined[s] for s in symbols(nm, obj, True) if s in defined} - {obj}
             for _, obj in found}
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):   # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for callee in calls[node]:
            if callee not in index:
                visit(callee)
                low[node] = min(low[node], low[callee])
            elif callee in on_stack:
                low[node] = min(low[node], index[callee])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for _, obj in found:
        if obj not in index:
            visit(obj)
    layer_of = {obj: layer for layer, obj in found}
    for group in groups:
        layers = sorted({layer_of[o] for o in group})
        print(f'cycle in {"+".join(layers)}: ' + ' '.join(sorted(short(o) for o in group)))
    if not groups:
        print('no cycle between files')
    return 0


def main():
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    if len(args) != 3:
        print('usage: check-layering.py SOURCE_DIR NM BUILD_DIR [--cycles]', file=sys.stderr)
        return 2
    source_dir, nm, build_dir = args
    if '--cycles' in sys.argv:
        return cycles(nm, build_dir)
    offences = []
    check_includes(source_dir, offences)
    check_symbols(nm, build_dir, offences)
    for line in offences:
        print(line)
    if offences:
        print(f'{len(offences)} calls or includes go up a layer (docs/architecture.md)')
        return 1
    print('every file calls and includes only its own layer and those below')
    return 0


if __name__ == '__main__':
    sys.exit(main())
