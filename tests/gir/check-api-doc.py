#!/usr/bin/env python3
# check-api-doc.py: docs/api.md must quote, verbatim, the examples that the tests run
#
# Each example is the text between an "example: LANG" marker line and an
# "end of example" marker line in its test file; docs/api.md must contain it unchanged
# inside a code block.
#
# SPDX-License-Identifier: GPL-3.0-or-later

import os
import re
import sys

EXAMPLES = [
    ("c", "tests/test-example.c"),
    ("python", "tests/gir/test-gir.py"),
    ("gjs", "tests/gir/test-gir.js"),
]


def extract(path, lang):
    lines = open(path, encoding="utf-8").read().splitlines()
    start = end = None
    for i, line in enumerate(lines):
        if re.search(rf"\bexample: {lang}\b", line):
            start = i + 1
        elif start is not None and "end of example" in line:
            end = i
            break
    if start is None or end is None:
        raise ValueError(f"{path}: no “example: {lang}” … “end of example” markers")
    return "\n".join(lines[start:end]).strip("\n") + "\n"


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.getcwd()
    doc = open(os.path.join(root, "docs", "api.md"), encoding="utf-8").read()
    failed = False
    for n, (lang, path) in enumerate(EXAMPLES, 1):
        try:
            example = extract(os.path.join(root, path), lang)
            ok = example in doc
            detail = "" if ok else f" # docs/api.md does not quote {path} verbatim"
        except (OSError, ValueError) as e:
            ok, detail = False, f" # {e}"
        print(f"{'ok' if ok else 'not ok'} {n} - the {lang} example of {path}{detail}")
        failed |= not ok
    print(f"1..{len(EXAMPLES)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
