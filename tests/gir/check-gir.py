#!/usr/bin/env python3
# check-gir.py: the generated GIR holds the whole public API as its doc comments describe
# it, and every gi-docgen link in the sources resolves
#
# Usage: check-gir.py GIR LIBRARY SOURCE_ROOT PUBLIC_HEADER...
#
# A doc comment in a file that g-ir-scanner is not given (libwzp-glib/meson.build, the
# GIR's sources) still builds, but its annotations never reach the typelib: a (nullable)
# parameter then refuses None in Python. So the doc comments are read from every file
# of libwzp-glib, public or private, and compared with the GIR:
#   1. every wzp_ symbol the library exports is declared in a public header (needs nm);
#   2. every function declared in a public header is in the GIR;
#   3. every documented wzp_/Wzp symbol is in the GIR with its doc: a description gives
#      a <doc>, "Since:" the version, each documented parameter exists;
#   4. the annotations of parameters and return values are in the GIR;
#   5. every [kind@Namespace.Name] link in libwzp-glib, wzp-gtk and wzp-relay resolves
#      against the GIR (other namespaces against the installed GIRs it includes).
#
# SPDX-License-Identifier: GPL-3.0-or-later

import glob
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

CORE = "{http://www.gtk.org/introspection/core/1.0}"
C = "{http://www.gtk.org/introspection/c/1.0}"
GLIB = "{http://www.gtk.org/introspection/glib/1.0}"

CALLABLES = {CORE + t for t in ("function", "method", "constructor", "virtual-method")}
TYPE_TAGS = {
    "class": ("class",),
    "iface": ("interface",),
    "struct": ("record",),
    "union": ("union",),
    "enum": ("enumeration",),
    "flags": ("bitfield",),
    "error": ("enumeration",),
    "callback": ("callback",),
    "alias": ("alias",),
    "const": ("constant",),
    "type": ("class", "interface", "record", "union", "enumeration", "bitfield", "alias",
             "callback"),
}
MEMBER_TAGS = {"func": "function", "method": "method", "ctor": "constructor",
               "vfunc": "virtual-method"}
LINK = re.compile(r"\[(%s|property|signal|id)@([^\]\s]+)\]"
                  % "|".join(list(TYPE_TAGS) + list(MEMBER_TAGS)))


# The doc comments of one file

class DocBlock:
    def __init__(self, path, line, symbol, annotations):
        self.where = f"{path}:{line}"
        self.symbol = symbol
        self.annotations = annotations
        self.params = {}       # name -> (annotations, text)
        self.returns = None    # (annotations, text)
        self.since = None
        self.description = ""


def parse_annotations(text):
    """'(transfer full) (nullable): the x' -> ([('transfer', 'full'), ('nullable', '')],
    'the x'); text without annotations comes back whole."""
    m = re.match(r"((?:\([^()]*\)\s*)+):\s*(.*)", text, re.S)
    if m is None:
        return [], text
    found = re.findall(r"\(([\w-]+)\s*([^()]*)\)", m.group(1))
    return [(name, arg.strip()) for name, arg in found], m.group(2)


def doc_blocks(path):
    text = open(path, encoding="utf-8").read()
    for m in re.finditer(r"/\*\*[ \t]*\n(.*?)\*/", text, re.S):
        lineno = text.count("\n", 0, m.start()) + 2
        lines = [re.sub(r"^\s*\*? ?", "", line, count=1) for line in m.group(1).split("\n")]
        while lines and not lines[0].strip():
            lines.pop(0)
            lineno += 1
        head = re.match(r"(\S+?):\s*(.*)$", lines[0].strip()) if lines else None
        if head is None:
            continue
        block = DocBlock(os.path.relpath(path), lineno, head.group(1),
                         parse_annotations(head.group(2) + ":")[0])
        current = None  # the tag a continuation line belongs to
        for line in lines[1:]:
            param = re.match(r"@(\w+|\.\.\.):\s*(.*)", line)
            tag = re.match(r"(Returns|Since|Deprecated|Stability):\s*(.*)", line)
            if param:
                current = ("param", param.group(1))
                block.params[param.group(1)] = parse_annotations(param.group(2))
            elif tag and tag.group(1) == "Returns":
                current = ("returns", None)
                block.returns = parse_annotations(tag.group(2))
            elif tag:
                current = None
                if tag.group(1) == "Since":
                    block.since = tag.group(2).strip()
            elif line[:1].isspace() and line.strip() and current is not None:
                if current[0] == "param":
                    ann, desc = block.params[current[1]]
                    block.params[current[1]] = (ann, desc + " " + line.strip())
                else:
                    block.returns = (block.returns[0], block.returns[1] + " " + line.strip())
            else:
                current = None
                block.description += line.strip()
        yield block


# The GIRs

def gir_search_path(gir_dir):
    dirs = [gir_dir]
    dirs += os.environ.get("GI_GIR_PATH", "").split(os.pathsep)
    data = os.environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share"
    dirs += [os.path.join(d, "gir-1.0") for d in data.split(os.pathsep)]
    dirs += ["/usr/share/gir-1.0"]
    return [d for d in dirs if d and os.path.isdir(d)]


class Repository:
    """The namespaces a GIR includes, loaded on demand."""

    def __init__(self, gir_path):
        self.search = gir_search_path(os.path.dirname(gir_path))
        self.versions = {}
        self.namespaces = {}
        self.main = self.load_file(gir_path)

    def load_file(self, path):
        root = ET.parse(path).getroot()
        for include in root.findall(CORE + "include"):
            self.versions.setdefault(include.get("name"), include.get("version"))
        ns = root.find(CORE + "namespace")
        self.namespaces[ns.get("name")] = ns
        return ns

    def namespace(self, name):
        """The namespace element, or None when no GIR for it is installed."""
        if name not in self.namespaces:
            self.namespaces[name] = None
            version = self.versions.get(name)
            pattern = f"{name}-{version}.gir" if version else f"{name}-*.gir"
            for d in self.search:
                found = sorted(glob.glob(os.path.join(d, pattern)))
                if found:
                    self.load_file(found[-1])
                    break
        return self.namespaces[name]


def child(parent, tags, name):
    for tag in tags:
        found = parent.find(f"{CORE}{tag}[@name='{name}']")
        if found is not None:
            return found
    return None


def resolve(repo, kind, target):
    """None when the link resolves, else why not; 'skip: …' when it cannot be checked."""
    if kind == "id":
        for ns in filter(None, [repo.main]):
            for el in ns.iter():
                if target in (el.get(C + "identifier"), el.get(C + "type")):
                    return None
        return "no such C symbol in the GIR"

    m = re.match(r"(\w+)\.(.+)$", target)
    if m is None:
        return "no namespace"
    ns = repo.namespace(m.group(1))
    if ns is None:
        return f"skip: no GIR for namespace {m.group(1)} is installed"
    rest = m.group(2)

    if kind in TYPE_TAGS:
        found = child(ns, TYPE_TAGS[kind], rest)
        if found is None:
            return f"no {kind} {rest} in {m.group(1)}"
        if kind == "error" and found.get(GLIB + "error-domain") is None:
            return f"{rest} is not an error domain"
        return None

    if kind in ("property", "signal"):
        sep = "::" if kind == "signal" else ":"
        type_name, _, member = rest.partition(sep)
        if not member or ":" in member:
            return f"a {kind} link is Namespace.Type{sep}name"
        owner = child(ns, ("class", "interface"), type_name)
        if owner is None:
            return f"no class or interface {type_name}"
        tag = GLIB + "signal" if kind == "signal" else CORE + "property"
        if owner.find(f"{tag}[@name='{member}']") is None:
            return f"{type_name} has no {kind} {member}"
        return None

    # func, method, ctor, vfunc
    type_name, _, member = rest.rpartition(".")
    tag = MEMBER_TAGS[kind]
    if not type_name:
        if kind != "func":
            return f"a {kind} link is Namespace.Type.name"
        return None if child(ns, (tag,), member) is not None else f"no function {member}"
    owner = child(ns, ("class", "interface", "record", "union", "enumeration", "bitfield"),
                  type_name)
    if owner is None:
        return f"no type {type_name}"
    if child(owner, (tag,), member) is None:
        return f"{type_name} has no {tag} {member}"
    return None


# The checks

def exported_symbols(library):
    nm = shutil.which("nm")
    if nm is None:
        return None
    out = subprocess.run([nm, "-D", "--defined-only", library], check=True,
                         capture_output=True, text=True).stdout
    names = (line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip())
    return {name for name in names if name.startswith("wzp_")}


def declared_functions(headers):
    names = {}
    for header in headers:
        text = open(header, encoding="utf-8").read()
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        declarations = r"^WZP_AVAILABLE_IN_\w+[ \t]*\n(G_DECLARE_\w+_TYPE\s*\([^)]*\)|[^;]*;)"
        for m in re.finditer(declarations, text, re.M):
            decl = m.group(1)
            g_declare = re.match(r"\s*G_DECLARE_\w+_TYPE\s*\(\s*\w+\s*,\s*(\w+)", decl)
            name = g_declare.group(1) + "_get_type" if g_declare else \
                re.search(r"(\w+)\s*\(", decl).group(1)
            names[name] = os.path.basename(header)
    return names


def gir_index(ns):
    """C identifier -> element, for callables, types and constants of the namespace."""
    index = {}
    for el in ns.iter():
        ident = el.get(C + "identifier")
        if ident and el.tag in CALLABLES:
            index[ident] = el
        for attr in (C + "type", GLIB + "get-type"):
            if el.get(attr) and el.tag != CORE + "type" and el.tag != CORE + "array":
                index.setdefault(el.get(attr), el)
    return index


def gir_element(ns, index, symbol):
    """The GIR element a doc comment's symbol names: wzp_fn, WzpType, WzpType:prop,
    WzpType::signal, WZP_CONSTANT."""
    m = re.match(r"(\w+)(::?)([\w-]+)$", symbol)
    if m is None:
        return index.get(symbol)
    owner = index.get(m.group(1))
    if owner is None:
        return None
    tag = GLIB + "signal" if m.group(2) == "::" else CORE + "property"
    return owner.find(f"{tag}[@name='{m.group(3)}']")


def gir_params(el):
    params = el.find(CORE + "parameters")
    if params is None:
        return None, []
    return params.find(CORE + "instance-parameter"), params.findall(CORE + "parameter")


def check_annotation(name, arg, node, params):
    """Why node (a GIR parameter or return-value) does not carry the annotation, or None."""
    index = {p.get("name"): i for i, p in enumerate(params)}
    types = [t.get("name") for t in node.findall(CORE + "type")]
    if name in ("nullable", "allow-none"):
        ok = node.get("nullable") == "1" or node.get("allow-none") == "1"
    elif name == "optional":
        ok = node.get("optional") == "1"
    elif name in ("out", "inout"):
        ok = node.get("direction") == name
        if ok and arg == "caller-allocates":
            ok = node.get("caller-allocates") == "1"
    elif name == "in":
        ok = node.get("direction", "in") == "in"
    elif name == "transfer":
        ok = node.get("transfer-ownership") == ("none" if arg == "floating" else arg)
    elif name == "scope":
        ok = node.get("scope") == arg
    elif name == "closure":
        if arg:
            ok = node.get("closure") == str(index.get(arg))
        else:
            own = str(index.get(node.get("name")))
            ok = node.get("closure") is not None or \
                any(p.get("closure") == own for p in params)
    elif name == "destroy":
        ok = node.get("destroy") == str(index.get(arg))
    elif name == "type":
        ok = any(t == arg or t.endswith("." + arg) for t in types)
    elif name == "array":
        ok = node.find(CORE + "array") is not None
    elif name == "element-type":
        container = node.find(CORE + "array")
        if container is None:
            container = node.find(CORE + "type")
        ok = container is not None and container.find(CORE + "type") is not None
    elif name == "skip":
        ok = node.get("skip") == "1"
    else:
        return None  # not one the GIR records on the node
    if ok:
        return None
    shown = f"({name} {arg})" if arg else f"({name})"
    return f"{shown} is not in the GIR"


def check_block(block, el):
    problems = []
    if block.description and el.find(CORE + "doc") is None:
        problems.append("its description is not in the GIR")
    if block.since and el.get("version") != block.since:
        problems.append(f"Since: {block.since} is not in the GIR "
                        f"(version={el.get('version')})")
    if el.tag not in CALLABLES:
        return problems

    instance, params = gir_params(el)
    by_name = {p.get("name"): p for p in params}
    if instance is not None:
        by_name[instance.get("name")] = instance
    for pname, (annotations, _) in block.params.items():
        node = by_name.get(pname)
        if node is None:
            if pname == "error" and el.get("throws") == "1" or pname == "...":
                continue
            problems.append(f"@{pname} is not a parameter in the GIR")
            continue
        for name, arg in annotations:
            why = check_annotation(name, arg, node, params)
            if why:
                problems.append(f"@{pname}: {why}")
    if block.returns is not None:
        node = el.find(CORE + "return-value")
        for name, arg in block.returns[0]:
            why = check_annotation(name, arg, node, params)
            if why:
                problems.append(f"Returns: {why}")
    return problems


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = False

    def report(self, description, problems, skip=None):
        self.n += 1
        if skip:
            print(f"ok {self.n} - {description} # SKIP {skip}")
            return
        print(f"{'not ok' if problems else 'ok'} {self.n} - {description}")
        for problem in problems:
            print(f"#   {problem}")
        self.failed |= bool(problems)


def source_files(root, subdirs):
    for sub in subdirs:
        for pattern in ("*.c", "*.h", "*.h.in"):
            yield from sorted(glob.glob(os.path.join(root, sub, "**", pattern), recursive=True))


def main(argv):
    if len(argv) < 5:
        print(f"usage: {argv[0]} GIR LIBRARY SOURCE_ROOT PUBLIC_HEADER...", file=sys.stderr)
        return 2
    gir, library, root = (os.path.abspath(a) for a in argv[1:4])
    headers = [os.path.abspath(a) for a in argv[4:]]
    repo = Repository(gir)
    ns = repo.main
    index = gir_index(ns)
    tap = Tap()
    os.chdir(root)

    declared = declared_functions(headers)
    exported = exported_symbols(library)
    if exported is None:
        tap.report("every exported symbol is declared in a public header", [],
                   skip="nm not found")
    else:
        tap.report("every exported symbol is declared in a public header",
                   [f"{name} is exported but not declared" for name in
                    sorted(exported - set(declared))] +
                   [f"{name} ({declared[name]}) is declared but not exported" for name in
                    sorted(set(declared) - exported)])

    tap.report("every public function is in the GIR",
               [f"{name} ({header}) is missing" for name, header in sorted(declared.items())
                if name not in index])

    missing, wrong = [], []
    for path in source_files(root, ["libwzp-glib"]):
        for block in doc_blocks(path):
            if not re.match(r"(wzp_|Wzp)", block.symbol):
                continue  # macros such as WZP_CALL_ERROR are C only
            el = gir_element(ns, index, block.symbol)
            if el is None:
                if ("skip", "") not in block.annotations:
                    missing.append(f"{block.where}: {block.symbol} is documented but not "
                                   "in the GIR")
                continue
            wrong += [f"{block.where}: {block.symbol}: {problem}"
                      for problem in check_block(block, el)]
    tap.report("every documented symbol is in the GIR", missing)
    tap.report("the GIR carries the doc comments and their annotations", wrong)

    broken, skipped = [], []
    for path in source_files(root, ["libwzp-glib", "wzp-gtk", "wzp-relay"]):
        text = open(path, encoding="utf-8").read()
        for m in LINK.finditer(text):
            why = resolve(repo, m.group(1), m.group(2))
            where = f"{os.path.relpath(path)}:{text.count(chr(10), 0, m.start()) + 1}"
            if why and why.startswith("skip: "):
                skipped.append(f"{where}: {m.group(0)}: {why[6:]}")
            elif why:
                broken.append(f"{where}: {m.group(0)}: {why}")
    tap.report("every gi-docgen link resolves", broken)
    for line in skipped:
        print(f"#   not checked: {line}")

    print(f"1..{tap.n}")
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
