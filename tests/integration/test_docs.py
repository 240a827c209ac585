#!/usr/bin/python3
"""Documentation checks (issue 8): every option that `mem-kv-server --help`
lists is described in docs/operations.md, and every relative link in
README.md and docs/*.md points to a file that exists (and, with a
#fragment, to a heading of that file, slugged as GitHub does).

Issue 18: docs/architecture.md's module map names every header.

Issue 16: the examples run. Every fenced ```console block of README.md and
docs/*.md carries a marker on the line above it:
  <!-- docs-test: run -->      each `$ command` is run against a fresh
                               server (port 8080 -> the test's port,
                               build/ -> the build directory, redis-cli with
                               --no-raw as on a terminal) and its shown
                               output must be what it prints;
  <!-- docs-test: session -->  `$ command` once, then lines typed (stdin) and
                               the reply line to each, alternating;
  <!-- docs-test: skip REASON -->  not run, with the reason.
A TTL shown right after its SET may read up to 3 s less.
A command that starts the server (`... mem-kv-server ... &`) is not run: the
test has started one."""

import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import RespConn, Runner, is_real_redis, parse_args, start_under_test  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
args = parse_args(__doc__)
R = Runner(args)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def help_options():
    out = subprocess.run([args.server, "--help"], capture_output=True, text=True,
                         timeout=10).stdout
    return sorted(set(re.findall(r"^\s+(--[a-z0-9][a-z0-9-]*)", out, re.M)))


@R.test
def test_every_option_in_operations(_):
    opts = help_options()
    assert len(opts) >= 10, "parsed --help: %r" % opts
    doc = read(os.path.join(ROOT, "docs", "operations.md"))
    missing = [o for o in opts if "`%s" % o not in doc]
    assert not missing, "options of --help not described in docs/operations.md: %s" % missing


def slug(heading):
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def anchors(text):
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return {slug(h) for h in re.findall(r"^#+\s+(.*)$", text, re.M)}


def pages():
    out = [os.path.join(ROOT, "README.md")]
    d = os.path.join(ROOT, "docs")
    out += [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".md")]
    return out


@R.test
def test_every_header_in_the_module_map(_):
    """Issue 18: docs/architecture.md's map of modules and headers names
    every header of the server's and the bench's folders."""
    text = read(os.path.join(ROOT, "docs", "architecture.md"))
    missing = []
    for folder in ("engine", "persist", "actors", "net", "bench"):
        for name in sorted(os.listdir(os.path.join(ROOT, folder))):
            if name.endswith(".h") and "`%s`" % name not in text:
                missing.append("%s/%s" % (folder, name))
    assert not missing, "headers not in docs/architecture.md's map: %s" % missing


@R.test
def test_relative_links_resolve(_):
    bad = []
    for page in pages():
        text = read(page)
        body = re.sub(r"```.*?```", "", text, flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", body):
            if re.match(r"^[a-z]+:", target):
                continue                      # http:, https:, mailto:
            path, _, frag = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
            where = "%s -> %s" % (os.path.relpath(page, ROOT), target)
            if not os.path.exists(dest):
                bad.append(where + " (no such file)")
            elif frag and dest.endswith(".md") and frag not in anchors(read(dest)):
                bad.append(where + " (no such heading)")
    assert not bad, "broken links:\n  " + "\n  ".join(bad)


CONSOLE = re.compile(r"^```console\n(.*?)^```", re.M | re.S)
MARK = re.compile(r"<!-- docs-test: (run|session|skip\s+\S.*?) -->\s*$")


def console_blocks():
    """(page, line, marker or None, body) of every ```console block."""
    out = []
    for page in pages():
        text = read(page)
        for m in CONSOLE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            before = text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1]
            mk = MARK.search(before)
            out.append((os.path.relpath(page, ROOT), line, mk.group(1) if mk else None,
                        m.group(1)))
    return out


def shell(cmd, port, stdin=None):
    bindir = os.path.dirname(os.path.abspath(args.server))
    cmd = re.sub(r"\b8080\b", str(port), cmd)
    cmd = re.sub(r"(^|[\s|;&(])build/", r"\g<1>" + bindir + "/", cmd)
    cmd = re.sub(r"\bredis-cli\b", "redis-cli --no-raw", cmd)
    p = subprocess.run(["bash", "-c", cmd], cwd=ROOT, input=stdin, capture_output=True,
                       text=True, timeout=20)
    return [ln.rstrip() for ln in p.stdout.rstrip("\n").split("\n")] if p.stdout else []


def run_block(body, marker, port):
    lines = body.rstrip("\n").split("\n")
    bad = []
    if marker == "session":
        assert lines[0].startswith("$ "), lines[0]
        typed, shown = lines[1::2], [ln.rstrip() for ln in lines[2::2]]
        got = shell(lines[0][2:], port, "".join(t + "\n" for t in typed))
        if got != shown:
            bad.append("%s\n    shown: %r\n    got:   %r" % (lines[0], shown, got))
        return bad
    i = 0
    while i < len(lines):
        assert lines[i].startswith("$ "), "output without a command: %r" % lines[i]
        cmd, i = lines[i][2:], i + 1
        shown = []
        while i < len(lines) and not lines[i].startswith("$ "):
            shown.append(lines[i].rstrip())
            i += 1
        if re.search(r"mem-kv-server\b.*&\s*$", cmd):
            continue                                  # the test's server is running
        got = shell(cmd, port)
        if re.search(r"\bP?TTL\b", cmd) and len(got) == len(shown) == 1:
            # a TTL shown right after its SET: the seconds the test took may have passed
            g, w = (re.fullmatch(r"(?:\(integer\) )?(-?\d+)", x) for x in (got[0], shown[0]))
            if g and w and 0 <= int(w.group(1)) - int(g.group(1)) <= 3:
                continue
        if got != shown:
            bad.append("%s\n    shown: %r\n    got:   %r" % (cmd, shown, got))
    return bad


@R.test
def test_console_examples_run(ctx):
    blocks = console_blocks()
    assert len(blocks) >= 3, "found %d console blocks" % len(blocks)
    unmarked = ["%s:%d" % (p, n) for p, n, mk, _ in blocks if mk is None]
    assert not unmarked, ("```console blocks without a <!-- docs-test: run|session|skip "
                          "REASON --> line above: %s" % unmarked)
    bad, ran = [], 0
    for page, line, mk, body in blocks:
        if mk.startswith("skip"):
            print("  skip %s:%d (%s)" % (page, line, mk[4:].strip()))
            continue
        with RespConn(ctx["srv"].port) as c:
            c.call("FLUSHALL")
        errs = run_block(body, mk, ctx["srv"].port)
        ran += 1
        print("  %s %s:%d" % ("FAIL" if errs else "ok  ", page, line))
        bad += ["%s:%d: %s" % (page, line, e) for e in errs]
    assert not bad, "examples whose output differs from the page:\n  " + "\n  ".join(bad)
    assert ran >= 3, "ran %d console blocks" % ran


def setup(runner):
    return {"srv": runner.add_server(start_under_test(args))}


def main():
    if is_real_redis(args):
        print("SKIP: docs -- checks mem-kv's own --help")
        return 77
    return R.run(setup=setup)


if __name__ == "__main__":
    sys.exit(main())
