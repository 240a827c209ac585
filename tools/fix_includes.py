#!/usr/bin/env python3
"""fix_includes.py - project includes by path from the project root.

Rewrites every project `#include "x.h"` in the C files of engine/ net/
actors/ persist/ bench/ tests/ to the header's path from the project root
(`#include "engine/shard.h"`); system includes (<...>) are left alone.
Idempotent: a root-relative include is left as it is, so running it twice
changes nothing the second time. Run it from anywhere:

  tools/fix_includes.py            rewrite the files in place
  tools/fix_includes.py --check    change nothing; exit 1 if a file has an
                                   include that is not root-relative, or if
                                   a *_internal.h is reached from outside
                                   its module (ctest: tools_includes)

How a bare name resolves (as the compiler does for quoted includes): a
header beside the including file wins; otherwise the name must match
exactly one header in the folders above. No match (unknown) or several
(ambiguous) is an error that names the file and line, and nothing is
written.

Privacy of internal headers: X/.../*_internal.h belongs to module X (the
top folder); only files in X/ and its unit tests in tests/X/ may include
it, directly or through other headers. Every other file that reaches one
is reported with the chain of includes.

--check also fails if a CMakeLists.txt makes a folder of the project an
include directory (target_include_directories or include_directories
naming CMAKE_CURRENT_SOURCE_DIR, PROJECT_SOURCE_DIR or CMAKE_SOURCE_DIR):
the project root, set once on memkv_flags, is the only one.
"""
import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOLDERS = ("engine", "net", "actors", "persist", "bench", "tests")
INCLUDE = re.compile(r'^(\s*#\s*include\s*)"([^"]+)"(.*)$')
CMAKE_INCDIRS = re.compile(r'\b(?:target_)?include_directories\s*\(([^)]*)\)', re.I)
PROJECT_DIRS = re.compile(r'\$\{(?:CMAKE_CURRENT_SOURCE_DIR|PROJECT_SOURCE_DIR|CMAKE_SOURCE_DIR)\}')


def source_files():
    """Root-relative paths of every .c and .h under FOLDERS, sorted."""
    out = []
    for top in FOLDERS:
        for d, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs.sort()
            for f in files:
                if f.endswith((".c", ".h")):
                    out.append(os.path.relpath(os.path.join(d, f), ROOT))
    return sorted(out)


def header_index(files):
    """Basename -> root-relative paths of the headers with that name."""
    idx = {}
    for p in files:
        if p.endswith(".h"):
            idx.setdefault(os.path.basename(p), []).append(p)
    return idx


def resolve(src, name, files, idx):
    """The root-relative path `name` means in file `src`, or raises ValueError."""
    here = os.path.dirname(src)
    if "/" in name:
        if name in files:  # already from the root
            return name
        rel = os.path.normpath(os.path.join(here, name))
        if rel in files:  # "../engine/x.h"
            return rel
        raise ValueError('unknown header "%s"' % name)
    beside = os.path.join(here, name)
    if beside in files:
        return beside
    cands = idx.get(name, [])
    if len(cands) == 1:
        return cands[0]
    if not cands:
        raise ValueError('unknown header "%s"' % name)
    raise ValueError('ambiguous header "%s": %s' % (name, " or ".join(cands)))


def scan(files, idx):
    """Returns ({file: new text or None}, {file: [included paths]}, errors)."""
    fileset = set(files)
    rewritten, graph, errors = {}, {}, []
    for src in files:
        with open(os.path.join(ROOT, src), encoding="utf-8") as f:
            lines = f.read().split("\n")
        changed, deps = False, []
        for i, line in enumerate(lines):
            m = INCLUDE.match(line)
            if not m:
                continue
            try:
                path = resolve(src, m.group(2), fileset, idx)
            except ValueError as e:
                errors.append("%s:%d: %s" % (src, i + 1, e))
                continue
            deps.append(path)
            if path != m.group(2):
                lines[i] = '%s"%s"%s' % (m.group(1), path, m.group(3))
                changed = True
        rewritten[src] = "\n".join(lines) if changed else None
        graph[src] = deps
    return rewritten, graph, errors


def module_of(path):
    """The module a file belongs to: its top folder, or X for tests/X/."""
    parts = path.split("/")
    if parts[0] == "tests" and len(parts) > 2:
        return parts[1]
    return parts[0]


def privacy_errors(files, graph):
    """Files that reach another module's *_internal.h, with the chain."""
    errors = []
    for src in files:
        mod = module_of(src)
        seen = {src: None}
        todo = [src]
        while todo:
            cur = todo.pop()
            for dep in graph.get(cur, []):
                if dep in seen:
                    continue
                seen[dep] = cur
                todo.append(dep)
                if dep.endswith("_internal.h") and dep.split("/")[0] != mod:
                    chain, at = [], dep
                    while at is not None:
                        chain.append(at)
                        at = seen[at]
                    errors.append("%s: includes %s, private to %s/ (%s)" % (
                        src, dep, dep.split("/")[0], " <- ".join(chain)))
    return errors


def cmake_errors():
    """CMakeLists.txt files that make a project folder an include directory."""
    errors = []
    for top in ("",) + FOLDERS:
        for d, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = sorted(x for x in dirs if not x.startswith("build")) if top else []
            if "CMakeLists.txt" not in files:
                continue
            path = os.path.join(d, "CMakeLists.txt")
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for m in CMAKE_INCDIRS.finditer(text):
                if PROJECT_DIRS.search(m.group(1)):
                    line = text.count("\n", 0, m.start()) + 1
                    errors.append("%s:%d: a project folder as include directory (the root, "
                                  "on memkv_flags, is the only one)"
                                  % (os.path.relpath(path, ROOT), line))
    return errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true",
                    help="change nothing; exit 1 on a bare include or a private header reached")
    args = ap.parse_args()
    files = source_files()
    rewritten, graph, errors = scan(files, header_index(files))
    if errors:
        for e in errors:
            print("fix_includes: " + e, file=sys.stderr)
        print("fix_includes: %d error(s), nothing written" % len(errors), file=sys.stderr)
        return 2
    todo = sorted(f for f, text in rewritten.items() if text is not None)
    bad = privacy_errors(files, graph)
    if args.check:
        bad += cmake_errors()
    if args.check:
        for f in todo:
            print("fix_includes: %s: includes not from the project root" % f, file=sys.stderr)
        for e in bad:
            print("fix_includes: " + e, file=sys.stderr)
        if todo or bad:
            return 1
        print("fix_includes: %d files, every project include from the root, "
              "internal headers private, no folder an include directory" % len(files))
        return 0
    for f in todo:
        with open(os.path.join(ROOT, f), "w", encoding="utf-8") as out:
            out.write(rewritten[f])
    print("fix_includes: %d of %d files rewritten" % (len(todo), len(files)))
    for e in bad:
        print("fix_includes: warning: " + e, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
