#!/usr/bin/python3
"""Checks the SDXL export (diffscope_export/sdxl.py) against diffusers' StableDiffusionXLPipeline, in Python (the C++
side does not read SDXL packages yet). Needs diffusers 0.31 and transformers (docs/models/sd1-sd2.md).

1. Exports the tiny SDXL pipeline of scripts/fixtures/make_sdxl_fixture.py (tests/data/sdxl/pipeline, or one built
   afresh with --build) with export_diffusers.py.
2. text_encoder/model.pt on tokenizer's ids vs StableDiffusionXLPipeline.encode_prompt: prompt_embeds and the pooled
   vector, for the prompt and the negative prompt.
3. unet/model.pt vs diffusers' own UNet on random inputs: the noise prediction, and every exported map vs the
   probabilities diffusers' AttnProcessor computes (get_attention_scores, recorded per attn2 call); the layer names
   in layers.json vs the UNet's attn2 modules in execution order.
4. For every run of make_sdxl_fixture.RUNS (Euler, DDIM, zero negatives, two SDXL-Turbo style runs): a Python
   sampling loop over the exported TorchScript modules with diffusers' scheduler (the package's model_index.json
   gives default_time_ids and force_zeros_for_empty_prompt) vs the pipeline's own latents at every step, and vs
   tests/data/sdxl/reference.npz.

    cd /tmp && PYTHONPATH=/work/pyenv /usr/bin/python3 /work/main/scripts/export/check_sdxl_export.py \\
        [--work /tmp/sdxl-check] [--build] [--tol 1e-4]

Exit status 0 when every difference is within --tol (relative to the latents' scale for the sampling runs), 1 when
one is not, 2 when diffusers is missing.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts", "fixtures"))
DATA = os.path.join(ROOT, "tests", "data", "sdxl")


def maxdiff(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max()) if a.shape == b.shape else float("inf")


def sample_with_package(pkg, te, unet, index, pipe, run, noise, ids):
    """The SDXL sampling loop on the exported modules, with diffusers' scheduler; every step's latent."""
    import torch
    from make_sdxl_fixture import RUNS, SEED, make_scheduler
    _, _, steps, guidance, negative = RUNS[run]
    sched = make_scheduler(pipe, run)
    sched.set_timesteps(steps)
    cfg = guidance > 1
    with torch.no_grad():
        ctx, pooled = te(ids["prompt"])
        if cfg:
            if negative is None and index["force_zeros_for_empty_prompt"]:
                nctx, npooled = torch.zeros_like(ctx), torch.zeros_like(pooled)
            else:
                nctx, npooled = te(ids["negative" if negative else "empty"])
            ctx, pooled = torch.cat([nctx, ctx]), torch.cat([npooled, pooled])
        b = ctx.shape[0]
        time_ids = torch.tensor([index["default_time_ids"]] * b, dtype=torch.float32)
        lat = noise * sched.init_noise_sigma
        gen = torch.Generator("cpu").manual_seed(SEED + 1000)  # the pipeline's generator (EulerAncestral draws from it)
        out = []
        for t in sched.timesteps:
            x = torch.cat([lat] * 2) if cfg else lat
            x = sched.scale_model_input(x, t)
            eps = unet.forward_prediction(x, t.float().reshape(1).expand(b), ctx, pooled, time_ids)
            if cfg:
                u, c = eps.chunk(2)
                eps = u + guidance * (c - u)
            lat = sched.step(eps, t, lat, generator=gen, return_dict=False)[0]
            out.append(lat[0].clone())
    return torch.stack(out).numpy()


def main():
    ap = argparse.ArgumentParser(description="Check the SDXL export against diffusers' StableDiffusionXLPipeline.")
    ap.add_argument("--work", default="/tmp/sdxl-check")
    ap.add_argument("--build", action="store_true",
                    help="build the tiny pipeline afresh (make_sdxl_fixture.build_tiny_sdxl) instead of "
                         "tests/data/sdxl/pipeline")
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    try:
        import torch
        import diffusers
        import transformers
        from diffusers import UNet2DConditionModel  # noqa: F401
    except ImportError as e:
        print(f"check_sdxl_export.py: needs diffusers and transformers ({e.name} is missing)", file=sys.stderr)
        return 2
    from make_sdxl_fixture import NEGATIVE, PROMPT, RUNS, SIZE, avoid_baddbmm_nan, build_tiny_sdxl, initial_noise, \
        load_pipeline, run_pipeline
    torch.set_num_threads(1)
    avoid_baddbmm_nan()
    print(f"torch {torch.__version__}, diffusers {diffusers.__version__}, transformers {transformers.__version__}")
    os.makedirs(a.work, exist_ok=True)
    src = os.path.join(DATA, "pipeline")
    if a.build or not os.path.isdir(src):
        src = os.path.join(a.work, "pipeline")
        build_tiny_sdxl(src, seed=0)
    pkg = os.path.join(a.work, "package")
    subprocess.run([sys.executable, os.path.join(HERE, "export_diffusers.py"), "--model", src, "--out", pkg,
                    "--name", "sdxl-tiny"], check=True, stderr=subprocess.DEVNULL)
    index = json.load(open(os.path.join(pkg, "model_index.json")))
    layers = json.load(open(os.path.join(pkg, "unet", "layers.json")))
    te = torch.jit.load(os.path.join(pkg, "text_encoder", "model.pt")).eval()
    unet = torch.jit.load(os.path.join(pkg, "unet", "model.pt")).eval()
    pipe = load_pipeline(src)
    failures = 0

    def report(what, d, tol):
        nonlocal failures
        ok = d <= tol
        failures += not ok
        print(f"{what}: max abs difference {d:.3e}  {'ok' if ok else 'FAIL'}")

    # 2. text
    tok = lambda s: torch.tensor([pipe.tokenizer(s, padding="max_length", max_length=77,  # noqa: E731
                                                 truncation=True).input_ids])
    ids = {"prompt": tok(PROMPT), "negative": tok(NEGATIVE), "empty": tok("")}
    with torch.no_grad():
        pe, npe, pooled, npooled = pipe.encode_prompt(PROMPT, device=torch.device("cpu"), num_images_per_prompt=1,
                                                      do_classifier_free_guidance=True, negative_prompt=NEGATIVE)
        c, p = te(ids["prompt"])
        nc, np_ = te(ids["negative"])
    report("text_encoder prompt_embeds (prompt)", maxdiff(c, pe), a.tol)
    report("text_encoder pooled_prompt_embeds (prompt)", maxdiff(p, pooled), a.tol)
    report("text_encoder prompt_embeds (negative)", maxdiff(nc, npe), a.tol)
    report("text_encoder pooled_prompt_embeds (negative)", maxdiff(np_, npooled), a.tol)

    # 3. UNet and maps against diffusers' own processor
    eager = pipe.unet
    rec = []
    patched = []
    for name, m in eager.named_modules():
        if name.endswith("attn2"):
            def scores(q, k, mask=None, orig=m.get_attention_scores):
                pr = orig(q, k, mask)
                rec.append(pr)
                return pr
            m.get_attention_scores = scores
            patched.append(m)
    g = torch.Generator().manual_seed(5)
    cfgu = eager.config
    lh = SIZE // pipe.vae_scale_factor
    x = torch.randn(2, cfgu.in_channels, lh, lh, generator=g)
    tt = torch.tensor([801.0, 301.0])
    ctx = torch.randn(2, 77, cfgu.cross_attention_dim, generator=g)
    pv = torch.randn(2, index["pooled_dim"], generator=g)
    tid = torch.tensor([index["default_time_ids"]] * 2)
    with torch.no_grad():
        ref = eager(x, tt, ctx, added_cond_kwargs={"text_embeds": pv, "time_ids": tid}, return_dict=False)[0]
        noise, maps, feats = unet(x, tt, ctx, pv, tid)
    for m in patched:
        del m.get_attention_scores
    report("unet noise_pred vs diffusers", maxdiff(noise, ref), a.tol)
    d_maps = max(maxdiff(mp.reshape(-1, mp.shape[2], mp.shape[3]), r) for mp, r in zip(maps, rec)) \
        if len(maps) == len(rec) else float("inf")
    report(f"unet attention maps ({len(maps)} exported, {len(rec)} diffusers calls)", d_maps, 1e-5)
    rank = {"down_blocks": 0, "mid_block": 1, "up_blocks": 2}
    names = sorted((n for n, _ in eager.named_modules() if n.endswith("attn2")), key=lambda n: rank[n.split(".")[0]])
    got = [layer["name"] for layer in layers["cross_attention"]]
    ok = got == names and [layer["heads"] for layer in layers["cross_attention"]] == \
        [eager.get_submodule(n).heads for n in names]
    failures += not ok
    print(f"layers.json: {len(got)} attn2 layers in execution order, names and heads as the UNet's  "
          f"{'ok' if ok else 'FAIL'}")

    # 4. sampling runs
    noise0 = initial_noise(pipe)
    stored = np.load(os.path.join(DATA, "reference.npz")) if os.path.exists(os.path.join(DATA, "reference.npz")) \
        else None
    if stored is not None:
        report("initial noise vs tests/data/sdxl/reference.npz", maxdiff(noise0, stored["noise"]), 0.0)
    for run, (cls, overrides, steps, guidance, negative) in RUNS.items():
        theirs = run_pipeline(pipe, run, noise0)[0].numpy()
        ours = sample_with_package(pkg, te, unet, index, pipe, run, noise0, ids)
        scale = max(1.0, float(np.abs(theirs).max()))
        report(f"{run:15s} {cls} {steps} steps, guidance {guidance:g}: package loop vs StableDiffusionXLPipeline "
               f"(every step, latent scale {scale:.1f})", maxdiff(ours, theirs), a.tol * scale)
        if stored is not None:
            report(f"{run:15s} StableDiffusionXLPipeline now vs tests/data/sdxl/reference.npz",
                   maxdiff(theirs, stored[f"{run}_latents"]), a.tol * scale)
    print("all checks passed" if not failures else f"{failures} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
