#!/usr/bin/env python3
# check-layering.py: the library's layers only call down (docs/architecture.md, "Layers").
#
# Usage: check-layering.py SOURCE_DIR NM OBJECT_DIR
#
# Each source and header of libwzp-glib/ belongs to one layer, from the bottom: shared,
# net, protocol, then client and relay side by side (neither uses the other). Two checks:
#  - includes: a file includes only headers of its own layer or of layers below;
#  - symbols: the symbols an object file leaves undefined are defined by objects of its
#    own layer or below (nm on OBJECT_DIR, the library's objects).
# A file that belongs to no layer fails too, so that a new file is placed on purpose.
# Exits 1 naming each offence.
#
# SPDX-License-Identifier: GPL-3.0-or-later

import fnmatch
import os
import re
import subprocess
import sys

# Patterns on base names without the extension's suffixes (.c, .h, -private.h), first match
# wins. Keep in step with the table in docs/architecture.md.
LAYERS = [
    ('protocol', ['wzp-relay-uri'], 'protocol'),   # before wzp-relay-*
    ('shared', ['wzp-error', 'wzp-timeout', 'wzp-token-bucket', 'wzp-i18n', 'wzp-version',
                'wzp-strv', 'wzp-text', 'wzp-enums', 'wzp-types', 'wzp-enum-types'], 'shared'),
    ('net', ['wzp-address', 'wzp-socket', 'wzp-candidates', 'wzp-network-info',
             'wzp-nat-type', 'wzp-tls', 'wzp-tls-dial', 'wzp-identity', 'wzp-fingerprint'],
     'net'),
    ('protocol', ['wzp-message', 'wzp-frame-io', 'wzp-media-frame', 'wzp-expect-stream',
                  'wzp-pipe-token'], 'protocol'),
    ('client', ['wzp-client', 'wzp-client-*', 'wzp-known-relays', 'wzp-local-candidates',
                'wzp-call', 'wzp-call-*', 'wzp-peer-candidates', 'wzp-nominator',
                'wzp-race', 'wzp-path'], 'client'),
    ('relay', ['wzp-relay', 'wzp-relay-*'], 'relay'),
    ('umbrella', ['wzp-glib'], 'umbrella'),
]
RANK = {'shared': 0, 'net': 1, 'protocol': 2, 'client': 3, 'relay': 3, 'umbrella': 4}


def stem(name):
    name = os.path.basename(name)
    for suffix in ('.c.o', '-private.h', '.h.in', '.c', '.h'):
        if name.endswith(suffix):
            return name[:-len(suffix)]
    return name


def layer_of(name):
    s = stem(name)
    for _, patterns, layer in LAYERS:
        if any(fnmatch.fnmatch(s, p) for p in patterns):
            return layer
    return None


def may_use(user, used):
    if user == used:
        return True
    if {user, used} == {'client', 'relay'}:
        return False
    return RANK[used] < RANK[user]


def check_includes(source_dir, offences):
    include = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
    for name in sorted(os.listdir(source_dir)):
        if not name.startswith('wzp-') or not name.endswith(('.c', '.h', '.h.in')):
            continue
        user = layer_of(name)
        if user is None:
            offences.append(f'{name}: belongs to no layer (add it to {__file__})')
            continue
        with open(os.path.join(source_dir, name), encoding='utf-8') as f:
            text = f.read()
        for header in include.findall(text):
            used = layer_of(header)
            if not header.startswith('wzp-') or used is None:
                continue
            if not may_use(user, used):
                offences.append(f'{name} ({user}) includes {header} ({used})')


def symbols(nm, path, undefined):
    flag = '--undefined-only' if undefined else '--defined-only'
    out = subprocess.run([nm, flag, '-P', path], check=True, capture_output=True,
                         text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def check_symbols(nm, object_dir, offences):
    objects = sorted(n for n in os.listdir(object_dir)
                     if n.endswith('.c.o') and layer_of(n.replace('meson-generated_..', ''))
                     is not None)
    defined = {}
    for obj in objects:
        for sym in symbols(nm, os.path.join(object_dir, obj), False):
            defined[sym] = obj
    for obj in objects:
        user = layer_of(obj)
        for sym in sorted(symbols(nm, os.path.join(object_dir, obj), True)):
            owner = defined.get(sym)
            if owner is None:
                continue
            used = layer_of(owner)
            if not may_use(user, used):
                offences.append(f'{stem(obj)}.c ({user}) uses {sym} of {stem(owner)}.c '
                                f'({used})')


def main():
    if len(sys.argv) != 4:
        print(__doc__ or 'usage: check-layering.py SOURCE_DIR NM OBJECT_DIR', file=sys.stderr)
        return 2
    source_dir, nm, object_dir = sys.argv[1:]
    offences = []
    check_includes(source_dir, offences)
    check_symbols(nm, object_dir, offences)
    for line in offences:
        print(line)
    if offences:
        print(f'{len(offences)} calls or includes go up a layer (docs/architecture.md)')
        return 1
    print('every file calls and includes only its own layer and those below')
    return 0


if __name__ == '__main__':
    sys.exit(main())
