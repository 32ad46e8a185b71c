#!/usr/bin/env python3
"""Every relative link and image in the documentation resolves (ctest docs_links_resolve).

Scans README.md, docs/**/*.md and models/*/README.md for markdown links and images (inline `[text](target)`,
`![alt](target)`, reference definitions `[id]: target`, and HTML `src=`/`href=` attributes), outside code spans
and fenced code blocks. A relative target must name an existing file or folder (relative to the page); a
`#anchor`, alone or after a markdown file, must match a heading of that file as GitHub slugs it (or an explicit
`id`/`name` attribute). Also holds the README to its front-door shape: at most 300 lines, with `scripts/demo.sh`
and `scripts/test.sh` in its first 40 lines.

Usage: check_links.py [repository root]   (default: two folders above this file)
"""
import os
import re
import sys
import unicodedata
from urllib.parse import unquote

README_MAX_LINES = 300
QUICK_START_LINES = 40
QUICK_START_COMMANDS = ("scripts/demo.sh", "scripts/test.sh")

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
INLINE = re.compile(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*(<[^>]*>|[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
REFDEF = re.compile(r"^ {0,3}\[([^\]]+)\]:\s*(<[^>]*>|\S+)")
HTML_ATTR = re.compile(r"""<(?:a|img|source)\b[^>]*?\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.I)
HTML_ID = re.compile(r"""<[a-z][^>]*?\b(?:id|name)\s*=\s*["']([^"']+)["']""", re.I)
HEADING_ATX = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def strip_code_spans(line):
    """Removes `code spans` (any run of backticks closed by the same run) from one line."""
    out, i = [], 0
    while i < len(line):
        if line[i] == "`":
            j = i
            while j < len(line) and line[j] == "`":
                j += 1
            ticks = line[i:j]
            close = line.find(ticks, j)
            while close != -1 and close + len(ticks) < len(line) and line[close + len(ticks)] == "`":
                close = line.find(ticks, close + len(ticks) + 1)
            if close == -1:
                out.append(ticks)
                i = j
            else:
                out.append(" ")
                i = close + len(ticks)
        else:
            out.append(line[i])
            i += 1
    return "".join(out)


def prose_lines(text):
    """(line number, line) outside fenced code blocks, with code spans removed."""
    fence = None
    for n, line in enumerate(text.split("\n"), 1):
        m = FENCE.match(line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not line.strip()[len(m.group(1)):].strip():
                fence = None
            continue
        if m:
            fence = m.group(1)
            continue
        yield n, strip_code_spans(line)


def heading_text(raw):
    """A heading's text as GitHub renders it: links to their text, images, emphasis marks, code ticks and HTML tags gone."""
    t = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", raw)
    t = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", t)
    t = re.sub(r"<[^>]+>", "", t)
    t = t.replace("`", "")
    t = re.sub(r"(\*\*|__|\*|_(?=\W)|(?<=\W)_|~~)", "", t)
    return t


def github_slug(text):
    """GitHub's heading anchor: lower case, punctuation dropped (letters, digits, '-', '_' and spaces kept), spaces to '-'."""
    out = []
    for ch in heading_text(text).strip().lower():
        if ch in " -_" or ch.isalnum() or unicodedata.category(ch).startswith("M"):
            out.append("-" if ch == " " else ch)
    return "".join(out)


_anchor_cache = {}


def anchors_of(path):
    """Every anchor a markdown file offers: its headings' slugs (repeats get -1, -2, ...) and explicit ids."""
    if path in _anchor_cache:
        return _anchor_cache[path]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    found, seen = set(), {}
    raw_lines = text.split("\n")
    for n, _ in prose_lines(text):
        raw = raw_lines[n - 1]
        m = HEADING_ATX.match(raw)
        slug = None
        if m:
            slug = github_slug(m.group(2))
        elif raw.strip() and n < len(raw_lines) and re.match(r"^ {0,3}(=+|-+)\s*$", raw_lines[n]) \
                and not re.match(r"^ {0,3}([|>*+-]|\d+[.)])", raw) and (n == 1 or not raw_lines[n - 2].strip()):
            slug = github_slug(raw)  # setext heading (a one-line paragraph underlined with = or -)
        if slug is not None:
            k = seen.get(slug, 0)
            found.add(slug if k == 0 else f"{slug}-{k}")
            seen[slug] = k + 1
        for ident in HTML_ID.findall(raw):
            found.add(ident)
    _anchor_cache[path] = found
    return found


def links_in(text):
    """(line number, target) of every link, image, reference definition and HTML href/src outside code."""
    for n, line in prose_lines(text):
        for m in INLINE.finditer(line):
            yield n, m.group(2)
        m = REFDEF.match(line)
        if m:
            yield n, m.group(2)
        for target in HTML_ATTR.findall(line):
            yield n, target


def check_file(root, path, problems):
    rel = os.path.relpath(path, root)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for n, target in links_in(text):
        target = target.strip()
        if target.startswith("<") and target.endswith(">"):
            target = target[1:-1]
        if not target or SCHEME.match(target) or target.startswith("//"):
            continue  # absolute URLs (http:, mailto:, data:) are not this test's business
        file_part, _, anchor = target.partition("#")
        file_part = unquote(file_part.split("?", 1)[0])
        if file_part.startswith("/"):
            resolved = os.path.normpath(os.path.join(root, file_part.lstrip("/")))
        elif file_part:
            resolved = os.path.normpath(os.path.join(os.path.dirname(path), file_part))
        else:
            resolved = path
        if not os.path.exists(resolved):
            problems.append(f"{rel}:{n}: {target}: no such file ({os.path.relpath(resolved, root)})")
            continue
        if anchor and os.path.isfile(resolved) and resolved.endswith(".md"):
            if unquote(anchor).lower() not in {a.lower() for a in anchors_of(resolved)}:
                problems.append(f"{rel}:{n}: {target}: no heading with anchor #{anchor} in "
                                f"{os.path.relpath(resolved, root)}")


def pages(root):
    out = [os.path.join(root, "README.md")]
    for base, dirs, files in os.walk(os.path.join(root, "docs")):
        dirs.sort()
        out += [os.path.join(base, f) for f in sorted(files) if f.endswith(".md")]
    models = os.path.join(root, "models")
    if os.path.isdir(models):
        for d in sorted(os.listdir(models)):
            card = os.path.join(models, d, "README.md")
            if os.path.isfile(card):
                out.append(card)
    return out


def check_readme_shape(root, problems):
    with open(os.path.join(root, "README.md"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) > README_MAX_LINES:
        problems.append(f"README.md: {len(lines)} lines, more than {README_MAX_LINES}: move the depth into docs/")
    head = "\n".join(lines[:QUICK_START_LINES])
    for cmd in QUICK_START_COMMANDS:
        if cmd not in head:
            problems.append(f"README.md: `{cmd}` is not in the first {QUICK_START_LINES} lines (the quick start)")


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
    problems = []
    files = pages(root)
    for path in files:
        check_file(root, path, problems)
    check_readme_shape(root, problems)
    if problems:
        print(f"check_links: {len(problems)} problem(s) in the documentation:")
        for p in problems:
            print("  " + p)
        return 1
    print(f"check_links: {len(files)} pages, every relative link and anchor resolves; README.md in shape")
    return 0


if __name__ == "__main__":
    sys.exit(main())
