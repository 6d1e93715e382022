#!/usr/bin/env python3
# check-standalone.py SOURCE_ROOT: the repository must stand on its own.
#
# Fails when a file of the source tree
#  - cites the product design document that lives outside the repository (its file name,
#    the upper-case word that named it, or a "§N" section sign): the decisions and their
#    reasons are in docs/, mostly docs/decisions.md, and sources cite those;
#  - names a path into the workplace's shared folder, or any other path of this machine
#    (/work/...): the network lab lives in tests/netlab, and nothing else is outside;
#  - cites a heading of a Markdown file that it does not have: `docs/X.md, "Heading"`,
#    `docs/X.md "A" and "B"` or `X.md, *Heading*` (a heading, or a **bold** lead-in, that
#    starts with the quoted words, numbering and markup ignored);
#  - (a Markdown file) links to a file that does not exist or an #anchor that is not one of
#    the target's headings (GitHub's anchors).
#
# The files are git's (tracked, and new ones not ignored) when SOURCE_ROOT is a checkout,
# otherwise every file outside build directories.
#
# SPDX-License-Identifier: GPL-3.0-or-later
import os
import re
import subprocess
import sys

root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
SELF = 'tests/check-standalone.py'

DESIGN_CITATION = re.compile(r'(?i:design\.md)|\bDESIGN\b|§\s*\d')
SHARED_PATH = re.compile(r'(?<![\w.])\.\./shared\b|(?<![\w.])/work/[\w.-]+')
# path, then one or more quoted (or *emphasised*) headings separated by "," or "and"
HEADING_CITATION = re.compile(
    r'(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.md)\)?[,:]?\s+\(?'
    r'((?:"[^"\n]{1,100}"|\*[^*\s][^*\n]{0,100}\*)(?:\s*(?:,|and)\s*'
    r'(?:"[^"\n]{1,100}"|\*[^*\s][^*\n]{0,100}\*))*)')
QUOTED = re.compile(r'"([^"\n]+)"|\*([^*\n]+)\*')
MD_LINK = re.compile(r'\]\(([^)\s]+)\)')
COMMENT_LEADER = re.compile(r'[ \t]*\n[ \t]*(?:\*(?=\s)|#+(?=\s)|//)?[ \t]*')


def source_files():
    try:
        out = subprocess.run(['git', '-C', root, 'ls-files', '-z', '--cached', '--others',
                              '--exclude-standard'],
                             check=True, capture_output=True).stdout.decode()
        rels = sorted(set(p for p in out.split('\0') if p))
    except (OSError, subprocess.CalledProcessError):
        rels = []
        for dirpath, dirnames, filenames in os.walk(root):
            rel_dir = os.path.relpath(dirpath, root)
            dirnames[:] = sorted(d for d in dirnames
                                 if not d.startswith('.')
                                 and not (rel_dir == '.' and (d.startswith('build')
                                                              or d == 'subprojects')))
            rels += [os.path.normpath(os.path.join(rel_dir, f)) for f in sorted(filenames)]
    for rel in rels:
        path = os.path.join(root, rel)
        if rel == SELF or not os.path.isfile(path):
            continue
        with open(path, 'rb') as f:
            data = f.read()
        if b'\0' in data[:8192]:
            continue                                  # binary (screenshots, icons)
        yield rel, data.decode('utf-8', errors='replace')


def normalise_label(text):
    text = re.sub(r'[`*_]', '', text)
    text = re.sub(r'^\d+(?:\.\d+)*\.?\s+', '', text.strip())
    return ' '.join(text.split()).casefold()


def github_anchor(heading):
    text = re.sub(r'[`*]', '', heading).strip().lower()
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


_md_cache = {}


def markdown_targets(path):
    """(labels, anchors) of a Markdown file: its headings and bold lead-ins."""
    if path not in _md_cache:
        labels, anchors, seen = [], set(), {}
        fenced = False
        with open(path, encoding='utf-8', errors='replace') as f:
            text = f.read()
        for line in text.splitlines():
            if line.lstrip().startswith('```'):
                fenced = not fenced
                continue
            if fenced:
                continue
            m = re.match(r'#{1,6}\s+(.*?)\s*#*\s*$', line)
            if m:
                labels.append(normalise_label(m.group(1)))
                anchor = github_anchor(m.group(1))
                n = seen.get(anchor, 0)
                seen[anchor] = n + 1
                anchors.add(anchor if n == 0 else f'{anchor}-{n}')
        for m in re.finditer(r'\*\*([^*]+)\*\*', text):
            labels.append(normalise_label(m.group(1)))
        _md_cache[path] = (labels, anchors)
    return _md_cache[path]


def resolve(rel, target):
    """The file a citation or link in @rel names: relative to @rel, to the root, or docs/."""
    for base in (os.path.dirname(rel), '', 'docs'):
        path = os.path.normpath(os.path.join(root, base, target))
        if os.path.isfile(path):
            return path
    return None


def line_of(text, offset):
    return text.count('\n', 0, offset) + 1


def main():
    problems = []
    citations = links = 0
    for rel, text in source_files():
        for lineno, line in enumerate(text.splitlines(), 1):
            for m in DESIGN_CITATION.finditer(line):
                problems.append(f'{rel}:{lineno}: cites the external design ("{m.group(0)}"); '
                                'cite the docs/ heading that states the decision')
            for m in SHARED_PATH.finditer(line):
                problems.append(f'{rel}:{lineno}: a path outside the repository '
                                f'("{m.group(0)}"); the repository must not depend on it')

        # Heading citations, across comment line breaks (in Markdown, not in `code` naming a
        # .md file, which shows how to cite).
        flat = text
        if rel.endswith('.md'):
            flat = re.sub(r'^```.*?^```', '', flat, flags=re.S | re.M)
            flat = re.sub(r'`[^`\n]*`', lambda c: '``' if '.md' in c.group(0) else c.group(0),
                          flat)
        flat = COMMENT_LEADER.sub(' ', flat)
        checked = 0
        for m in HEADING_CITATION.finditer(flat):
            target = resolve(rel, m.group(1))
            if target is None:
                if m.group(1).startswith('docs/'):
                    problems.append(f'{rel}: cites {m.group(1)}, which does not exist')
                continue
            labels, _ = markdown_targets(target)
            for q in QUOTED.finditer(m.group(2)):
                label = normalise_label(q.group(1) or q.group(2))
                checked += 1
                if not any(l.startswith(label) for l in labels):
                    problems.append(f'{rel}: cites {m.group(1)}, "{q.group(1) or q.group(2)}": '
                                    'no such heading')
        citations += checked

        # Markdown links.
        if rel.endswith('.md'):
            for m in MD_LINK.finditer(text):
                link = m.group(1)
                links += 1
                if re.match(r'[a-z][a-z0-9+.-]*:', link):
                    continue                          # http:, mailto:, ...
                file_part, _, anchor = link.partition('#')
                if file_part:
                    path = os.path.normpath(os.path.join(root, os.path.dirname(rel), file_part))
                    if not os.path.exists(path):
                        problems.append(f'{rel}:{line_of(text, m.start())}: link to '
                                        f'{file_part}, which does not exist')
                        continue
                else:
                    path = os.path.join(root, rel)
                if anchor and path.endswith('.md'):
                    _, anchors = markdown_targets(path)
                    if anchor not in anchors:
                        problems.append(f'{rel}:{line_of(text, m.start())}: link to '
                                        f'{link}: no such heading')

    for p in problems:
        print(p)
    print(f'{citations} heading citations and {links} Markdown links checked; '
          f'{len(problems)} problem(s)')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
