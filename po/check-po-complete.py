#!/usr/bin/env python3
# check-po-complete.py: fails when a translation lacks a message of the current sources.
#
# Usage: check-po-complete.py SOURCE_ROOT XGETTEXT MSGMERGE LANG.po...
#
# Extracts the messages of every file in po/POTFILES.in as `ninja wzp-pot` does (the same
# xgettext arguments: meson's i18n preset 'glib'), into a temporary directory, so the
# source tree is not touched; merges each translation with them (msgmerge, as
# `ninja wzp-update-po` would) and lists every message that is untranslated or fuzzy
# there. A message is fuzzy when the source changed since it was translated, or when
# msgmerge could only guess a translation from a similar message: either way a person
# must look at it. msgfmt --check (test po-LANG) cannot see this, since it only reads
# the .po file, which says nothing of strings added to the sources since.
#
# SPDX-License-Identifier: GPL-3.0-or-later

import os
import subprocess
import sys
import tempfile

# meson's i18n.gettext (preset: 'glib') passes these to xgettext (po/meson.build).
XGETTEXT_ARGS = [
    '--package-name=wzp', '--from-code=UTF-8', '--add-comments',
    '-k_', '--keyword=_', '--keyword=N_', '--keyword=C_:1c,2', '--keyword=NC_:1c,2',
    '--keyword=g_dcgettext:2', '--keyword=g_dngettext:2,3', '--keyword=g_dpgettext2:2c,3',
    '--flag=N_:1:pass-c-format', '--flag=C_:2:pass-c-format',
    '--flag=NC_:2:pass-c-format', '--flag=g_dngettext:2:pass-c-format',
    '--flag=g_strdup_printf:1:c-format', '--flag=g_string_printf:2:c-format',
    '--flag=g_string_append_printf:2:c-format', '--flag=g_error_new:3:c-format',
    '--flag=g_set_error:4:c-format', '--flag=g_markup_printf_escaped:1:c-format',
    '--flag=g_log:3:c-format', '--flag=g_print:1:c-format', '--flag=g_printerr:1:c-format',
    '--flag=g_printf:1:c-format', '--flag=g_fprintf:2:c-format',
    '--flag=g_sprintf:2:c-format', '--flag=g_snprintf:3:c-format',
]


def entries(path):
    """(flags, msgid, msgstr list) of each entry of a .po file, the header left out."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    for block in text.split('\n\n'):
        flags = []
        fields = {}
        current = None
        obsolete = False
        for line in block.splitlines():
            if line.startswith('#~'):
                obsolete = True
            elif line.startswith('#,'):
                flags += [flag.strip() for flag in line[2:].split(',')]
            elif line.startswith('#'):
                continue
            elif line.startswith('"') and current is not None:
                fields[current] += eval(line)  # a C string literal, as Python reads it
            elif ' ' in line:
                current, value = line.split(' ', 1)
                fields[current] = eval(value)
        if obsolete or 'msgid' not in fields or fields['msgid'] == '':
            continue
        strs = [v for k, v in fields.items() if k.startswith('msgstr')]
        yield flags, fields['msgid'], strs


def main():
    source_root, xgettext, msgmerge = sys.argv[1:4]
    translations = sys.argv[4:]
    problems = 0

    with tempfile.TemporaryDirectory(prefix='wzp-po-') as tmp:
        pot = os.path.join(tmp, 'wzp.pot')
        subprocess.run([xgettext, *XGETTEXT_ARGS, '-D', source_root,
                        '-f', os.path.join(source_root, 'po', 'POTFILES.in'), '-o', pot],
                       check=True, cwd=source_root)
        for po in translations:
            merged = os.path.join(tmp, os.path.basename(po))
            subprocess.run([msgmerge, '--quiet', '--no-wrap', '-o', merged, po, pot],
                           check=True)
            for flags, msgid, strs in entries(merged):
                if 'fuzzy' in flags:
                    what = 'fuzzy'
                elif not strs or any(s == '' for s in strs):
                    what = 'untranslated'
                else:
                    continue
                problems += 1
                print(f'{os.path.basename(po)}: {what}: {msgid!r}')

    if problems:
        print(f'{problems} messages of the sources are not translated (or are fuzzy): '
              'run `ninja wzp-pot` and `msgmerge po/LANG.po po/wzp.pot` to see them, '
              'then translate them in po/LANG.po', file=sys.stderr)
        return 1
    print('every message of the sources is translated')
    return 0


if __name__ == '__main__':
    sys.exit(main())
