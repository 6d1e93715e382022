#!/usr/bin/env python3
# check-potfiles.py SOURCE_ROOT: fails when a shipped file with translatable strings is
# missing from po/POTFILES.in, or when POTFILES.in names a file that does not exist.
#
# A file has translatable strings when it calls _( N_( C_( NC_( ngettext( g_dngettext(
# (C), marks translatable="yes" (GtkBuilder), or is a data file that gettext extracts
# (desktop entry, metainfo, GSettings schema with a gettext-domain).
#
# SPDX-License-Identifier: GPL-3.0-or-later
import os
import re
import sys

root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..'))

# Not shipped for translation: tests, benchmarks, docs, build trees.
SKIP_DIRS = {'.git', '.ci', 'tests', 'bench', 'docs', 'po', 'subprojects'}
C_MARKS = re.compile(r'(?<![A-Za-z0-9_])(?:N?C?_|NC_|ngettext|g_dngettext)\s?\(\s*"')
UI_MARK = re.compile(r'translatable="(?:yes|true|1)"')


def needs_translation(path, rel):
    name = os.path.basename(path)
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            text = f.read()
    except OSError:
        return False
    if name.endswith(('.c', '.h')):
        return C_MARKS.search(text) is not None
    if name.endswith('.ui') or name.endswith('.ui.in'):
        return UI_MARK.search(text) is not None
    if re.search(r'\.desktop(\.in)*$', name) or re.search(r'\.(metainfo|appdata)\.xml(\.in)*$', name):
        return True
    if name.endswith('.gschema.xml'):
        return 'gettext-domain' in text and '<summary>' in text
    return False


def shipped_files():
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        dirnames[:] = sorted(d for d in dirnames
                             if not (rel_dir == '.' and (d in SKIP_DIRS or d.startswith('build')))
                             and not d.startswith('.'))
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            yield path, os.path.relpath(path, root)


def listed():
    entries = []
    with open(os.path.join(root, 'po', 'POTFILES.in'), encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith('#'):
                entries.append(line)
    return entries


entries = listed()
missing = [rel for path, rel in shipped_files()
           if needs_translation(path, rel) and rel not in entries]
gone = [e for e in entries if not os.path.exists(os.path.join(root, e))]
unsorted = entries != sorted(entries)

for rel in missing:
    print(f'po/POTFILES.in: missing {rel} (it has translatable strings)')
for rel in gone:
    print(f'po/POTFILES.in: lists {rel}, which does not exist')
if unsorted:
    print('po/POTFILES.in: not sorted')
if missing or gone or unsorted:
    sys.exit(1)
print(f'po/POTFILES.in lists all {len(entries)} files with translatable strings')
