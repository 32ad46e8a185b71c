#!/usr/bin/env python3
"""The include graph is layered and the CLI includes no LibTorch.

Layers, bottom up (a module may include its own layer's modules only where listed, and any module below):
  0 util      1 metrics, text, sched      2 engine, analysis      3 explain, represent      4 study      5 cli
Torch-free: util, metrics, text, analysis and cli: none of their files may reach an ATen/torch/c10 header, directly
or through the diffscope headers they include. Public headers live in include/diffscope/<module>/.
Exit 0 when all holds; else one line per violation and exit 1.
"""
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LAYER = {"util": 0, "metrics": 1, "text": 1, "sched": 1, "engine": 2, "analysis": 2, "explain": 3, "represent": 3,
         "study": 4, "cli": 5}
TORCH_FREE = {"util", "metrics", "text", "analysis", "cli"}
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^">]+)[">]', re.M)
TORCH = re.compile(r"^(ATen|torch|c10|caffe2)/")


def module_of(path):
    rel = os.path.relpath(path, ROOT).split(os.sep)
    if rel[0] == "src" and rel[1] in LAYER:
        return rel[1]
    if rel[:2] == ["include", "diffscope"] and len(rel) > 3 and rel[2] in LAYER:
        return rel[2]
    return None


def resolve(inc, from_file):
    for base in (os.path.join(ROOT, "include"), os.path.join(ROOT, "src"), os.path.dirname(from_file)):
        p = os.path.normpath(os.path.join(base, inc))
        if os.path.isfile(p):
            return p
    return None


def main():
    files = []
    for d in ("src", "include"):
        for dp, _, fs in os.walk(os.path.join(ROOT, d)):
            files += [os.path.join(dp, f) for f in fs if f.endswith((".h", ".cpp"))]
    includes = {}
    for f in files:
        with open(f) as fh:
            includes[f] = INCLUDE.findall(fh.read())
    problems = []
    for f in files:
        mod = module_of(f)
        rel = os.path.relpath(f, ROOT)
        if rel.startswith("include/diffscope/") and rel.count("/") == 2 and not rel.endswith("version.h.in"):
            problems.append(f"{rel}: public headers belong in include/diffscope/<module>/")
        if mod is None:
            continue
        for inc in includes[f]:
            m = re.match(r"diffscope/([a-z_]+)/", inc)
            if not m or m.group(1) not in LAYER:
                continue
            other = m.group(1)
            if other != mod and LAYER[other] >= LAYER[mod]:
                problems.append(f"{rel}: module {mod} (layer {LAYER[mod]}) includes {inc} from {other} "
                                f"(layer {LAYER[other]}), which is not below it")
    # torch reachability through the include closure
    reach = {}

    def torch_path(f, seen):
        if f in reach:
            return reach[f]
        seen.add(f)
        found = None
        for inc in includes.get(f, []):
            if TORCH.match(inc):
                found = [inc]
                break
            p = resolve(inc, f)
            if p and p not in seen and p in includes:
                sub = torch_path(p, seen)
                if sub:
                    found = [os.path.relpath(p, ROOT)] + sub
                    break
        reach[f] = found
        return found

    for f in files:
        mod = module_of(f)
        if mod in TORCH_FREE:
            chain = torch_path(f, set())
            if chain:
                problems.append(f"{os.path.relpath(f, ROOT)}: module {mod} must not include LibTorch, but reaches it "
                                f"via {' -> '.join(chain)}")
    for p in problems:
        print(p)
    print(f"checked {len(files)} files: {len(problems)} layering problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
