#!/usr/bin/env python3
"""CLI option fuzz (ctest cli_option_fuzz): every numeric option of every subcommand, as `diffscope <cmd> --help`
lists it (CLI11 prints its type: INT, UINT, FLOAT, NUMBER), is fed NaN, inf, -1 and 0.

Expected for each value: exit 2 with exactly one line of output, naming the option (it was refused where it is
declared, before any model load), unless ALLOWED below lists the value with its documented meaning; an allowed value
must still end in one line (the command then fails fast on the missing package or input, or succeeds). No output of
any run may carry a library's own text (JSON, LibTorch, OpenCV, libpng).

Commands get a package folder that does not exist and empty or missing inputs, so none runs a model: a value that
is not refused up front fails on them, and its error then does not name the option (the test reports it).

usage: fuzz_options.py DIFFSCOPE_BINARY WORK_DIR
"""
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys

VALUES = ["nan", "inf", "-1", "0"]

# (command, option, value) -> documented meaning. "*" as the command: every command with that option.
ALLOWED = {
    ("*", "--seed", "0"): "seed 0 (0..2^63-1)",
    ("*", "--saliency-seed", "0"): "seed 0",
    ("*", "--threads", "0"): "every core this process may use",
    ("*", "--x0-every", "0"): "no x0 images",
    ("*", "--filmstrip-cols", "0"): "at most 8 a row (the default wrapping)",
    ("probe", "--bootstrap", "0"): "no bootstrap intervals (documented in --help)",
    ("*", "-g", "0"): "guidance <= 1 turns CFG off",
    ("*", "-g", "-1"): "guidance <= 1 turns CFG off",
    ("*", "--eta", "0"): "DDIM eta 0 (deterministic)",
    ("*", "--spatial", "0"): "no spatial features",
    ("*", "--limit", "0"): "features: all images",
    ("*", "--sheets", "0"): "no contact sheets",
    ("*", "--warmup", "0"): "no warm-up",
    ("*", "--threshold", "0"): "IoU threshold 0 (every pixel of a normalised map)",
    ("*", "--step-frac", "0"): "the first step",
    ("*", "--saliency-step-frac", "0"): "the first step",
    ("*", "--step", "0"): "step 0",
    ("*", "--saliency-step", "0"): "step 0",
    ("*", "--t", "0"): "timestep 0 (the clean image)",
    ("*", "--keep-layers", "0"): "step 0",
    ("*", "--keep-heads", "0"): "step 0",
    # step indices checked against the run's steps, once they are known ("--step -1: the run has steps 0..2")
    ("*", "--keep-layers", "-1"): "checked against the run's steps",
    ("*", "--keep-heads", "-1"): "checked against the run's steps",
    ("*", "--step", "-1"): "checked against the run's steps",
    ("*", "--saliency-step", "-1"): "checked against the run's steps",
    ("*", "--x0-overlays", "0"): "step 0",
    ("*", "--gen-guidance", "0"): "guidance <= 1 turns CFG off",
    ("*", "--gen-guidance", "-1"): "guidance <= 1 turns CFG off",
    ("compare", "--fraction", "0"): "a fraction in 0..1",
    ("check", "--default-tolerance", "0"): "exact: no difference allowed",
    ("baseline", "--default-tolerance", "0"): "exact: no difference allowed",
}

# Known gaps, reported on every run but not failed: each names where it is to be fixed.
KNOWN_OPEN = {}

# Library signatures: none may reach a user.
SIGNATURES = ["json.exception", "what():", "libpng", "OpenCV(", "c10::", "Exception raised from", "terminate called"]

OPTION_RE = re.compile(r"^\s{2}((?:-\w,)?(?:--[\w-]+)(?:,--[\w-]+)*|[a-z][\w-]*)\s+([A-Z]+)(:[^\s=]*)?(=\S*)?(\s+\.\.\.)?(\s+REQUIRED)?")


def run(binary, args, cwd):
    p = subprocess.run([binary] + args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                       env=dict(os.environ, DIFFSCOPE_THREADS="1", OMP_NUM_THREADS="1"))
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def subcommands(binary, path, cwd):
    """[(path, help text)] for the command `path` and every subcommand below it."""
    _, out, _ = run(binary, path + ["--help"], cwd)
    found = []
    if "Subcommands:" in out:
        block = out.split("Subcommands:", 1)[1]
        for line in block.splitlines():
            m = re.match(r"^\s{2}([a-z][\w-]*)\s{2,}", line)
            if m:
                found += subcommands(binary, path + [m.group(1)], cwd)
            elif line.strip() == "" and found:
                break
        return found
    return [(path, out)]


def parse_options(help_text):
    """(names, type, check, required, positional) per option line of a --help text."""
    opts = []
    for line in help_text.splitlines():
        m = OPTION_RE.match(line)
        if not m:
            continue
        names = m.group(1).split(",")
        opts.append({"names": names, "long": [n for n in names if n.startswith("--")] or names, "type": m.group(2),
                     "check": (m.group(3) or "")[1:], "required": bool(m.group(6)),
                     "positional": not names[0].startswith("-")})
    return opts


def main():
    binary, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    existing_file = os.path.join(work, "empty.txt")
    open(existing_file, "w").close()
    existing_dir = os.path.join(work, "empty-dir")
    os.makedirs(existing_dir)
    missing = os.path.join(work, "no-such-package")

    failures, runs, collected = [], 0, []
    commands = subcommands(binary, [], work)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=int(os.environ.get("DS_FUZZ_JOBS", "4")))
    for path, help_text in commands:
        opts = parse_options(help_text)
        names = {n for o in opts for n in o["names"]}
        base = []  # required options and positionals, each given something that exists or fails fast
        for o in opts:
            if o["type"] not in ("TEXT",) and not o["required"]:
                continue
            value = existing_file if o["check"] == "FILE" else existing_dir if o["check"] == "DIR" else missing
            if o["required"]:
                base += ([value] if o["positional"] else [o["names"][-1], value])
        for model_opt in ("--model", "-m"):
            if model_opt in names and "--model" not in base and "-m" not in base:
                base += [model_opt, missing]
        if "--tokenizer" in names and "--model" not in base:
            base += ["--tokenizer", missing]
        if "--prompt" in names and path[0] != "batch" and "-p" not in base and "--prompt" not in base:
            base += ["--prompt", "a red circle"]
        cases = []
        for o in opts:
            if o["positional"] or o["type"] not in ("INT", "UINT", "FLOAT", "NUMBER"):
                continue
            name = o["names"][-1]
            for v in VALUES:
                args = list(base) + ([name + "=" + v] if name.startswith("--") else [name, v])
                cases.append((o, name, v, pool.submit(run, binary, path + args, work)))
        for o, name, v, future in cases:
            if True:
                runs += 1
                rc, out, err = future.result()
                text = (out + err).strip("\n")
                lines = text.splitlines()
                collected.append((path, name, v, text))
                cmd = "diffscope " + " ".join(path + [name, v])
                allowed = next((ALLOWED[k] for k in ((p, n, v) for p in (" ".join(path), "*") for n in o["names"])
                                if k in ALLOWED), None)
                if rc in (124, 137) or rc < 0 or rc > 2:
                    failures.append(f"{cmd}: exit {rc} (a crash): {text[-300:]}")
                elif len(lines) != 1:
                    failures.append(f"{cmd}: exit {rc} with {len(lines)} lines of output, expected one: {text[-300:]}")
                elif allowed is not None:
                    pass
                elif (" ".join(path), name, v) in KNOWN_OPEN:
                    print(f"OPEN {cmd}: {KNOWN_OPEN[(' '.join(path), name, v)]}")
                elif rc != 2:
                    failures.append(f"{cmd}: exit {rc}, expected 2 (refused) or an entry in ALLOWED: {text}")
                elif not any(n in lines[0] for n in o["names"] + [n.lstrip("-") for n in o["long"]]):
                    failures.append(f"{cmd}: refused, but not for the option (validated after other inputs, or too "
                                    f"late?): {text}")
    for path, name, v, text in collected:
        for sig in SIGNATURES:
            if sig in text:
                failures.append(f"diffscope {' '.join(path)} {name} {v}: library text \"{sig}\" in: {text[-300:]}")
    print(f"{len(commands)} commands, {runs} runs, {len(failures)} failures")
    for f in failures:
        print("FAIL " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
