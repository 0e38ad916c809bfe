#!/usr/bin/env python3
"""What imports what in the collector and the presentation: reads the
`use crate::`, `use super::` (and child-module) paths of every file under
src/collector/ and src/present/ (test modules left out), resolves each to the
file that defines it (following `pub use` re-exports), and prints

  - the rooms (a folder under src/collector/, or present/) with files and lines,
  - what each room imports from each other room,
  - every import circle: between rooms, and between files of one room.

Usage: tools/import_graph.py [REPO_ROOT]   (default: the current directory)
"""

import os
import re
import sys
from collections import defaultdict

ROOT = sys.argv[1] if len(sys.argv) > 1 else "."
SRC = os.path.join(ROOT, "src")
SCOPES = ("collector", "present")


def module_of(path):
    """src/collector/storage/mod.rs -> ('collector', 'storage')."""
    rel = os.path.relpath(path, SRC)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib"):
        rel = rel[:-1]
    return tuple(rel)


def files():
    out = {}
    for scope in SCOPES:
        for d, _, names in os.walk(os.path.join(SRC, scope)):
            for n in names:
                if n.endswith(".rs"):
                    p = os.path.join(d, n)
                    out[module_of(p)] = p
    # Modules outside the scopes, to resolve paths into (not drawn).
    for d, _, names in os.walk(SRC):
        for n in names:
            if n.endswith(".rs"):
                p = os.path.join(d, n)
                out.setdefault(module_of(p), p)
    return out


MODULES = files()


def code(path):
    """The file without comments and without its test module."""
    text = open(path, encoding="utf-8").read()
    cut = re.search(r"^#\[cfg\(test\)\]", text, re.M)
    if cut:
        text = text[: cut.start()]
    # Character and string literals (raw ones first) may hold `use`,
    # braces, quotes and `//`.
    text = re.sub(r"b?'(?:\\.|[^'\\\n])'", "' '", text)
    text = re.sub(r'r(#+)".*?"\1', '""', text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def expand(tree):
    """`a::{b, c::{d, self}}` -> ['a::b', 'a::c::d', 'a::c']."""
    tree = tree.strip()
    i = tree.find("{")
    if i < 0:
        return [re.sub(r"\s+as\s+\w+$", "", tree).strip()]
    prefix, inner = tree[:i], tree[i + 1 : tree.rindex("}")]
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    out = []
    for p in parts:
        p = p.strip()
        if not p:
            continue
        for e in expand(p):
            out.append(prefix.rstrip(":") if e == "self" else prefix + e)
    return out


def absolute(path, here):
    """A path as written in module `here`, made absolute (a tuple)."""
    segs = [s for s in path.split("::") if s]
    if not segs:
        return None
    if segs[0] == "crate":
        return tuple(segs[1:])
    if segs[0] in ("super", "self"):
        base = list(here)
        while segs and segs[0] in ("super", "self"):
            if segs.pop(0) == "super":
                base.pop()
        return tuple(base + segs)
    if here + (segs[0],) in MODULES:  # a child module named directly
        return here + tuple(segs)
    return None


def reexports():
    """(module, name) -> absolute path, from `pub use` lines."""
    out = {}
    for mod, path in MODULES.items():
        for m in re.finditer(r"\bpub use\s+([^;]+);", code(path)):
            for p in expand(m.group(1)):
                a = absolute(p, mod)
                if a:
                    out[(mod, a[-1])] = a
    return out


REEXPORTS = reexports()


def resolve(abspath, depth=0):
    """The module (file) that defines what `abspath` names."""
    for n in range(len(abspath), 0, -1):
        mod = abspath[:n]
        if mod in MODULES:
            rest = abspath[n:]
            if rest and (mod, rest[0]) in REEXPORTS and depth < 8:
                target = REEXPORTS[(mod, rest[0])] + rest[1:]
                if target != abspath:
                    return resolve(target, depth + 1)
            return mod
    return None


def imports(mod):
    text = code(MODULES[mod])
    paths = []
    for m in re.finditer(r"\buse\s+([^;]+);", text):
        paths += expand(m.group(1))
    # Paths written in place: crate::a::b(...), super::a::B { ... }.
    rest = re.sub(r"\buse\s+[^;]+;", "", text)
    paths += re.findall(r"(?<![\w:])((?:crate|super)(?:::\w+)+)", rest)
    # ...and through a child module: tls::connector(...).
    paths += [p for p in re.findall(r"(?<![\w:])(\w+(?:::\w+)+)", rest)
              if mod + (p.split("::")[0],) in MODULES]
    out = set()
    for p in paths:
        a = absolute(p, mod)
        if not a:
            continue
        target = resolve(a)
        if target and target != mod and target and target[0] in SCOPES:
            # A module's own ancestors (their declarations) are not imports
            # unless an item of theirs is named.
            out.add(target)
    return out


def room(mod):
    """A room: the first folder under src/collector/ (`storage`, with its
    `sqlite/` and `postgres/`), or each file directly in it on its own
    (`collector/error.rs`); all of src/present/ is one."""
    rel = os.path.relpath(MODULES[mod], SRC).split(os.sep)
    if rel[0] == "collector":
        return rel[1][:-3] + ".rs" if len(rel) == 2 else rel[1]
    return rel[0]


def folder(mod):
    return os.path.dirname(os.path.relpath(MODULES[mod], SRC))


def lines(mod):
    return sum(1 for _ in open(MODULES[mod], encoding="utf-8"))


def sccs(nodes, edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def name(mod):
    return os.path.relpath(MODULES[mod], SRC)


def main():
    drawn = sorted(m for m in MODULES if m and m[0] in SCOPES)
    edges = {m: imports(m) for m in drawn}
    rooms = defaultdict(list)
    for m in drawn:
        rooms[room(m)].append(m)
    print("## Rooms (files, lines)\n")
    for r in sorted(rooms):
        ms = rooms[r]
        print(f"- {r}: {len(ms)} files, {sum(lines(m) for m in ms)} lines")
        for m in ms:
            print(f"    {name(m)}  {lines(m)}")
    print("\n## What each room imports (room -> room: files imported)\n")
    redges = defaultdict(set)
    for m, ts in edges.items():
        for t in ts:
            if room(t) != room(m):
                redges[room(m)].add(room(t))
    for r in sorted(rooms):
        targets = defaultdict(set)
        for m in rooms[r]:
            for t in edges[m]:
                if room(t) != r:
                    targets[room(t)].add(name(t))
        if targets:
            for tr in sorted(targets):
                print(f"- {r} -> {tr}: {', '.join(sorted(targets[tr]))}")
        else:
            print(f"- {r} -> (nothing)")
    print("\n## Inside each room (file -> files of the same room)\n")
    for r in sorted(rooms):
        for m in rooms[r]:
            same = sorted(name(t) for t in edges[m] if room(t) == r)
            if same:
                print(f"- {name(m)} -> {', '.join(same)}")
    print("\n## Circles between rooms\n")
    circles = sccs(set(rooms), redges)
    print("\n".join("- " + " <-> ".join(c) for c in circles) or "- none")
    print("\n## Circles between files of one room\n")
    found = False
    for r in sorted(rooms):
        inside = {m: {t for t in edges[m] if room(t) == r} for m in rooms[r]}
        for c in sccs(set(rooms[r]), inside):
            found = True
            print(f"- {r}: " + " <-> ".join(name(m) for m in c))
    if not found:
        print("- none")
    print("\n## Circles between files, anywhere\n")
    allc = sccs(set(drawn), edges)
    print("\n".join("- " + " <-> ".join(name(m) for m in c) for c in allc) or "- none")


main()
