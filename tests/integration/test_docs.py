#!/usr/bin/python3
"""Documentation checks (issue 8): every option that `mem-kv-server --help`
lists is described in docs/operations.md, and every relative link in
README.md and docs/*.md points to a file that exists (and, with a
#fragment, to a heading of that file, slugged as GitHub does)."""

import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Runner, is_real_redis, parse_args  # noqa: E402

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


def main():
    if is_real_redis(args):
        print("SKIP: docs -- checks mem-kv's own --help")
        return 77
    return R.run()


if __name__ == "__main__":
    sys.exit(main())
