#!/usr/bin/env python3
"""The GPU path in one prepared call (issue 40): build, fixtures, CPU-vs-device equality, 512 px timings.

Run by scripts/gpu/check.sh on a bare accelerator machine (python3 there holds PyTorch 2.x with CUDA; its LibTorch
is under torch.utils.cmake_prefix_path). Rehearsed on the project's CPU machine with `--device cpu` (the CUDA part
is then the CPU run compared with itself, which must be bit-identical: the determinism promise).

Stages (each is timed; a failing stage is recorded and the later ones that need it are skipped, so one call always
writes its JSON):
  facts     the GPU, driver, torch, its C++ ABI, glibc, compiler
  build     diffscope and its test binaries against this torch's LibTorch (skipped with --bin)
  fixtures  the tiny random-weight packages of the ctests (UNet and joint-attention transformer), exported on the
            device's torch (make_test_package.py)
  tests     the LibTorch ctests of that build (engine, explain, study, cli's tiny-package cases), on the CPU
  equality  generate and saliency on each tiny package with --device cpu and with --device DEVICE, same seed;
            latents, attention maps and saliency maps compared (max |a-b| and max |a-b| / max |a|), and the final
            image and every x0 estimate (PNG) in levels of the 0-1 range
  timing    SD 1.5 widths (random weights, check_diffusers_export.build_tiny(full=True)) at --size px: diffscope with
            and without capture at fp32 and fp16 (bf16 on the CPU) against diffusers' StableDiffusionPipeline at the
            same precision, interleaved rounds, medians per denoising step (needs diffusers importable: carry it
            on DIFFUSERS_PYTHONPATH; skipped and said so otherwise)

Writes OUT/gpu-check.json (stable keys) and OUT/gpu-check.md (the tables for docs/performance.md).

    python3 scripts/gpu/check.py --out "$OUT" [--device cuda] [--bin build-gpu/diffscope] [--size 512] [--steps 20]
"""
import argparse
import glob
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PY = sys.executable

# Equality bars, CPU against CUDA in fp32. The CPU-against-CPU rehearsal must give 0 (bit-identical). For CUDA the
# bars are a first setting from the arithmetic (cuDNN convolutions may use TF32 on Hopper unless disabled; sums run
# in another order): they are checked against what the first lent run measures, which the report prints beside them.
BARS = {"latents": 1e-3, "attention": 1e-3, "images": 2 / 255, "saliency": 1e-2}


def log(msg):
    print(f"[gpu-check {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd, env=None, cwd=ROOT, timeout=None, capture=True):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(cmd, cwd=cwd, env=e, timeout=timeout, text=True,
                       stdout=subprocess.PIPE if capture else None, stderr=subprocess.STDOUT if capture else None)
    return p.returncode, (p.stdout or "")


class Stages:
    def __init__(self, out):
        self.out, self.result = out, {"stages": {}}

    def stage(self, name, fn, *args):
        log(f"{name} ...")
        t0 = time.time()
        try:
            value = fn(*args)
            self.result["stages"][name] = {"ok": True, "seconds": round(time.time() - t0, 1), "result": value}
            log(f"{name} ok ({time.time() - t0:.0f} s)")
            return value
        except Exception as e:  # recorded, not raised: one call must always write its report
            self.result["stages"][name] = {"ok": False, "seconds": round(time.time() - t0, 1), "error": str(e)[-2000:]}
            log(f"{name} FAILED: {str(e)[-400:]}")
            return None

    def save(self):
        with open(os.path.join(self.out, "gpu-check.json"), "w") as f:
            json.dump(self.result, f, indent=1, sort_keys=True)


def facts(device):
    import torch
    f = {"date": time.strftime("%Y-%m-%d"), "torch": torch.__version__, "cuda": torch.version.cuda,
         "cxx11_abi": bool(torch._C._GLIBCXX_USE_CXX11_ABI), "glibc": platform.libc_ver()[1],
         "python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
         "cores": os.cpu_count(), "device": device}
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError("torch sees no CUDA device")
        f["gpu"] = torch.cuda.get_device_name(0)
        f["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2 ** 30, 1)
        rc, smi = run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"])
        f["driver"] = smi.strip() if rc == 0 else "nvidia-smi failed"
    rc, cxx = run(["c++", "--version"])
    f["cxx"] = cxx.splitlines()[0] if rc == 0 and cxx else "no c++"
    return f


def build(build_dir, deps_prefix, jobs):
    import torch
    prefix = [torch.utils.cmake_prefix_path] + ([deps_prefix] if deps_prefix else [])
    cfg = ["cmake", "-S", ROOT, "-B", build_dir, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
           "-DCMAKE_PREFIX_PATH=" + ";".join(prefix), "-DDS_PYTHON=" + PY]
    rc, text = run(cfg)
    if rc:
        raise RuntimeError("cmake configure failed:\n" + text[-3000:])
    rc, text = run(["cmake", "--build", build_dir, "-j", str(jobs)])
    if rc:
        raise RuntimeError("build failed:\n" + text[-3000:])
    return {"build_dir": build_dir, "cmake_prefix_path": prefix}


def fixtures(work):
    made = {}
    for name, extra in (("tiny-package", []), ("tiny-mmdit", ["--mmdit"])):
        out = os.path.join(work, name)
        rc, text = run([PY, "scripts/fixtures/make_test_package.py", "--out", out] + extra, env={"OMP_NUM_THREADS": "4"})
        if rc:
            raise RuntimeError(f"make_test_package.py {' '.join(extra)} failed:\n" + text[-2000:])
        made[name] = out
    return made


def ctests(build_dir):
    rc, text = run(["ctest", "--test-dir", build_dir, "-R", "^(make_test_package|make_test_mmdit_package|engine|explain|"
                    "study|mmdit_loop_matches_pytorch|sd3_matches_diffusers|flux_matches_diffusers)$",
                    "--output-on-failure", "-j", "4"], timeout=1500)
    tail = "\n".join(line for line in text.splitlines() if "Test #" in line or "tests passed" in line)
    if rc:
        raise RuntimeError("ctest failed:\n" + text[-3000:])
    return tail


def npy_arrays(folder):
    import numpy as np
    arrays = {}
    for path in sorted(glob.glob(os.path.join(folder, "**", "*.npy"), recursive=True)):
        rel = os.path.relpath(path, folder)
        kind = ("latents" if rel.startswith("latents") else "attention" if rel.startswith("attention") else
                "saliency" if "saliency" in rel else None)
        if kind:
            arrays[rel] = (kind, np.load(path).astype(np.float64))
    # the decoded images: the final one and each step's x0 estimate, in 8-bit levels (a bar of 2 levels of 255)
    from PIL import Image
    for path in [os.path.join(folder, "final.png")] + sorted(glob.glob(os.path.join(folder, "steps", "x0_*.png"))):
        if os.path.exists(path):
            arrays[os.path.relpath(path, folder)] = ("images", np.asarray(Image.open(path), dtype=np.float64) / 255)
    return arrays


def compare_folders(a, b):
    import numpy as np
    A, B = npy_arrays(a), npy_arrays(b)
    if not A or set(A) != set(B):
        raise RuntimeError(f"{a} and {b} hold different arrays: {sorted(set(A) ^ set(B))[:5]}")
    worst = {}
    for rel, (kind, x) in A.items():
        y = B[rel][1]
        if x.shape != y.shape:
            raise RuntimeError(f"{rel}: shapes {x.shape} and {y.shape}")
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise RuntimeError(f"{rel}: not finite")
        d = float(np.abs(x - y).max()) if x.size else 0.0
        scale = 1.0 if kind == "images" else max(float(np.abs(x).max()), 1e-30)  # images: levels of the 0-1 range
        rel_d = d / scale if x.size else 0.0
        w = worst.setdefault(kind, {"max_abs": 0.0, "max_rel": 0.0, "arrays": 0, "worst": ""})
        w["arrays"] += 1
        if rel_d >= w["max_rel"]:
            w.update(max_rel=rel_d, worst=rel)
        w["max_abs"] = max(w["max_abs"], d)
    for kind, w in worst.items():
        w["bar_rel"] = BARS[kind]
        w["pass"] = w["max_rel"] <= BARS[kind]
    return worst


def equality(binary, packages, device, work, threads):
    out = {}
    for name, pkg in packages.items():
        runs = {}
        for role, dev in (("cpu", "cpu"), ("device", device)):
            folder = os.path.join(work, "eq", f"{name}-{role}")
            cmd = [binary, "generate", "-m", pkg, "-p", "a red circle and a blue square", "--steps", "6", "--seed", "7",
                   "--guidance", "3", "--device", dev, "--threads", str(threads), "-q", "--overwrite", "-o", folder]
            if name == "tiny-package":
                cmd += ["--scheduler", "ddim"]
            rc, text = run(cmd)
            if rc:
                raise RuntimeError(f"generate on {dev} ({name}) failed: {text[-1500:]}")
            sal = [binary, "saliency", "-r", folder, "--device", dev, "--samples", "32", "--k", "8", "--threads",
                   str(threads), "-q"]
            rc, text = run(sal)
            if rc:
                raise RuntimeError(f"saliency on {dev} ({name}) failed: {text[-1500:]}")
            runs[role] = folder
        out[name] = compare_folders(runs["cpu"], runs["device"])
    return out


def timing(binary, device, work, size, steps, rounds, threads, full=True):
    pp = os.environ.get("DIFFUSERS_PYTHONPATH", "")
    env = {"PYTHONPATH": pp + os.pathsep + os.path.join(ROOT, "scripts", "export")}
    rc, text = run([PY, "-c", "import diffusers, transformers"], env=env)
    if rc:
        return {"skipped": "diffusers/transformers not importable (set DIFFUSERS_PYTHONPATH to carried copies): " +
                text.strip().splitlines()[-1] if text.strip() else "import failed"}
    tag = "sd15-random" if full else "sd1-tiny-widths"
    src, pkg = os.path.join(work, tag), os.path.join(work, f"{tag}-{size}")
    if not os.path.exists(os.path.join(src, "model_index.json")):
        code = ("from check_diffusers_export import build_tiny; "
                f"build_tiny('sd1', {src!r}, 'tests/data/reference/clip-tokenizer', seed=11, full={full})")
        rc, text = run([PY, "-c", code], env=env)
        if rc:
            raise RuntimeError("building the random SD 1.5 folder failed: " + text[-1500:])
    low = "fp16" if device.startswith("cuda") else "bf16"
    pkgs = {"fp32": pkg}
    rc, text = run([PY, "scripts/export/export_diffusers.py", "--model", src, "--out", pkg, "--height", str(size),
                    "--width", str(size)], env=env)
    if rc:
        raise RuntimeError("export failed: " + text[-1500:])
    configs = []
    for prec in ("fp32", low):
        configs += [("diffusers", prec, False), ("diffusers", prec, True), ("diffscope", prec, False),
                    ("diffscope", prec, True)]
    rows = []
    prompt = "a photo of a red circle and a blue square"
    for r in range(rounds):
        order = configs if r % 2 == 0 else list(reversed(configs))
        for tool, prec, cap in order:
            t0 = time.time()
            if tool == "diffusers":
                cmd = [PY, "scripts/export/diffusers_timed_run.py", "--model", src, "--prompt", prompt, "--steps",
                       str(steps), "--guidance", "7.5", "--seed", "3", "--threads", str(threads), "--size", str(size),
                       "--device", device, "--dtype", {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}[prec]]
                if cap:
                    cmd.append("--capture")
                rc, text = run(cmd, env=env)
                if rc:
                    raise RuntimeError("diffusers run failed: " + text[-1500:])
                j = json.loads(text.strip().splitlines()[-1])
                per_step, faults = j["per_step_s"], j["minor_faults"]
            else:
                folder = os.path.join(work, "timing-run")
                cmd = [binary, "generate", "-m", pkgs["fp32"], "-p", prompt, "--steps", str(steps), "--height",
                       str(size), "--width", str(size), "--guidance", "7.5", "--seed", "3", "--scheduler", "ddim",
                       "--threads", str(threads), "--device", device, "--precision", prec, "-q", "--overwrite",
                       "--x0-every", "0", "-o", folder]
                if not cap:
                    cmd.append("--no-attention")
                rc, text = run(["/usr/bin/time", "-f", "%R"] + cmd if os.path.exists("/usr/bin/time") else cmd)
                if rc:
                    raise RuntimeError("diffscope run failed: " + text[-1500:])
                s = json.load(open(os.path.join(folder, "run.json")))["timings"]["steps_s"]
                per_step = sum(s[1:]) / max(1, len(s) - 1)
                last = text.strip().splitlines()[-1] if text.strip() else ""
                faults = int(last) if last.isdigit() else None
                shutil.rmtree(folder, ignore_errors=True)
            rows.append({"round": r, "tool": tool, "precision": prec, "capture": cap, "per_step_s": per_step,
                         "minor_faults": faults, "wall_s": round(time.time() - t0, 2)})
            log(f"timing round {r}: {tool} {prec} capture={cap}: {per_step * 1000:.1f} ms/step")
    med = {}
    for tool, prec, cap in configs:
        v = [x["per_step_s"] for x in rows if (x["tool"], x["precision"], x["capture"]) == (tool, prec, cap)]
        med[f"{tool}.{prec}.{'capture' if cap else 'plain'}"] = statistics.median(v)
    ratios = {}
    for prec in ("fp32", low):
        for cap in ("plain", "capture"):
            ratios[f"{prec}.{cap}.diffscope_over_diffusers"] = med[f"diffscope.{prec}.{cap}"] / med[f"diffusers.{prec}.plain"]
        ratios[f"{prec}.capture_over_plain"] = med[f"diffscope.{prec}.capture"] / med[f"diffscope.{prec}.plain"]
    return {"widths": "sd1.5" if full else "test (tiny)", "size": size, "steps": steps, "rounds": rounds, "threads": threads, "median_per_step_s": med,
            "ratios": ratios, "rows": rows}


def markdown(res):
    lines = ["# GPU check", ""]
    f = res["stages"].get("facts", {}).get("result") or {}
    lines.append(" ".join(f"{k}={v}" for k, v in sorted(f.items())))
    lines += ["", "| stage | ok | seconds |", "| --- | --- | --- |"]
    for k, v in res["stages"].items():
        lines.append(f"| {k} | {'yes' if v['ok'] else 'NO: ' + v.get('error', '')[:80].replace('|', '/')} | {v['seconds']} |")
    eq = res["stages"].get("equality", {}).get("result")
    if eq:
        lines += ["", "| package | arrays | max abs | max rel | bar (rel) | pass |", "| --- | --- | --- | --- | --- | --- |"]
        for pkg, kinds in eq.items():
            for kind, w in kinds.items():
                lines.append(f"| {pkg} {kind} | {w['arrays']} | {w['max_abs']:.3g} | {w['max_rel']:.3g} | {w['bar_rel']} | "
                             f"{'yes' if w['pass'] else 'NO'} |")
    tm = res["stages"].get("timing", {}).get("result")
    if tm and "median_per_step_s" in tm:
        lines += ["", f"{tm['size']} px, DDIM {tm['steps']} steps, guidance 7.5, {tm['rounds']} interleaved rounds",
                  "", "| configuration | median ms/step |", "| --- | --- |"]
        for k, v in tm["median_per_step_s"].items():
            lines.append(f"| {k} | {v * 1000:.2f} |")
        lines += ["", "| ratio | value |", "| --- | --- |"] + [f"| {k} | {v:.3f} |" for k, v in tm["ratios"].items()]
    elif tm:
        lines += ["", "timing: " + tm.get("skipped", "")]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--bin", help="an already built diffscope (skips the build stage; its folder is the build dir)")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-gpu"))
    ap.add_argument("--deps", default=os.environ.get("DIFFSCOPE_GPU_DEPS", ""),
                    help="prefix of the carried C++ dependencies (scripts/gpu/bundle_deps.sh)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tiny-widths", action="store_true",
                    help="time the test widths instead of SD 1.5's (a rehearsal of the timing stage)")
    ap.add_argument("--skip", default="", help="comma-separated stages to skip (tests, timing, ...)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    work = os.path.join(a.build_dir if not a.bin else os.path.dirname(os.path.abspath(a.bin)), "gpu-check")
    os.makedirs(work, exist_ok=True)
    skip = set(filter(None, a.skip.split(",")))
    s = Stages(a.out)
    s.stage("facts", facts, a.device)
    s.save()
    binary = os.path.abspath(a.bin) if a.bin else os.path.join(a.build_dir, "diffscope")
    build_dir = os.path.dirname(binary)
    if not a.bin and "build" not in skip and s.stage("build", build, a.build_dir, a.deps, a.jobs) is None:
        s.save()
        open(os.path.join(a.out, "gpu-check.md"), "w").write(markdown(s.result))
        return 1
    s.save()
    pk = s.stage("fixtures", fixtures, work) if "fixtures" not in skip else None
    s.save()
    if "tests" not in skip:
        s.stage("tests", ctests, build_dir)
        s.save()
    if pk and "equality" not in skip:
        s.stage("equality", equality, binary, pk, a.device, work, a.threads)
        s.save()
    if "timing" not in skip:
        s.stage("timing", timing, binary, a.device, work, a.size, a.steps, a.rounds, a.threads, not a.tiny_widths)
        s.save()
    open(os.path.join(a.out, "gpu-check.md"), "w").write(markdown(s.result))
    print(markdown(s.result))
    ok = all(v["ok"] for v in s.result["stages"].values())
    eq = (s.result["stages"].get("equality") or {}).get("result") or {}
    ok = ok and all(w["pass"] for kinds in eq.values() for w in kinds.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
