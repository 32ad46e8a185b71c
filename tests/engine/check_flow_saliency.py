#!/usr/bin/python3
"""Saliency on a flow-matching transformer, checked at the root: recomputes what `diffscope saliency` does on one step
of a flow run directly in flow space, with PyTorch and the package's own TorchScript files, independently of
diffscope's C++ (which converts a flow sample to the variance-preserving sample of the same signal-to-noise ratio and
reuses the DDIM machinery).

Usage: check_flow_saliency.py DIFFSCOPE PACKAGE WORKDIR [--step K] [--steps N]

Runs `diffscope generate` (N flow_euler steps, guidance 4, seed 3) and `diffscope saliency --step K --methods
df-rise,df-cam --similarity mse` (24 DF-RISE masks, K = 8 stages, seed 5), then in Python, from latents.npy's sample
x_t at sigma = t/1000 (the flow sample (1 - sigma) x0 + sigma noise):
  - the guided velocity v = v_u + w (v_c - v_u) of transformer/model.pt on x_t;
  - DF-RISE: the same masks (torch.rand on torch.Generator().manual_seed(seed), RISE cells, bilinear upsampling, the
    random shift), each masked sample's clean estimate x_t m - sigma v(x_t m) scored against x_t - sigma v(x_t) with
    1 - mse / 4, saliency = ReLU(sum(mask x score) / (N p)), min-max; must equal saliency/step_K/df-rise.npy;
  - DF-CAM: Grad-CAM over the transformer's block outputs from the gradient of the guided velocity's sum, the CFG
    halves combined as g_u + w (g_c - g_u); must equal df-cam.npy;
  - every method's deletion and insertion curve (the written map's pixels in order, set to 0 / put into the blurred
    sample), each perturbed sample advanced by one flow Euler step x + (sigma' - sigma) v(x) and decoded, scored
    against the unperturbed sample's step with 1 - mse / 4; must equal curves.csv.
It also reports what the curves would be if the advanced sample were decoded in its variance-preserving scaling
(x / sqrt((1 - sigma')^2 + sigma'^2)), so that a mismatch says which of the two the C++ computes. Exit 0 when all
holds.
"""
import argparse
import csv
import json
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def blur(x):
    """Gaussian 11x11, sigma 5, per channel, reflect padding (the insertion curve's base)."""
    k1 = torch.exp(-((torch.arange(11, dtype=torch.float32) - 5) ** 2) / 50.0)
    k1 = k1 / k1.sum()
    k2 = torch.outer(k1, k1).view(1, 1, 11, 11).expand(x.shape[1], 1, 11, 11).contiguous()
    pad = min(5, min(x.shape[2], x.shape[3]) - 1)
    y = F.conv2d(F.pad(x, (pad, pad, pad, pad), mode="reflect"), k2, groups=x.shape[1])
    if pad < 5:
        y = F.interpolate(y, size=(x.shape[2], x.shape[3]), mode="bilinear", align_corners=False)
    return y


def mse_similarity(a, b):
    """1 - mean squared difference / 4, one value per row of a against b (the `--similarity mse` score)."""
    a64, b64 = a.double(), b.double().expand_as(a)
    return (1.0 - ((a64 - b64) ** 2).flatten(1).mean(1) / 4.0).tolist()


def minmax(v):
    v = np.asarray(v, dtype=np.float64)
    return (v - v.min()) / (v.max() - v.min()) if v.max() > v.min() else np.zeros_like(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("diffscope"), ap.add_argument("package"), ap.add_argument("work")
    ap.add_argument("--step", type=int, default=6)
    ap.add_argument("--steps", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(a.work, exist_ok=True)
    run = os.path.join(a.work, "run")
    guidance, seed, mask_seed, samples, k, batch = 4.0, 3, 5, 24, 8, 8
    prompt = "a red circle and a blue square"
    subprocess.run([a.diffscope, "generate", "-m", a.package, "-p", prompt, "--steps", str(a.steps), "--guidance",
                    str(guidance), "--seed", str(seed), "--threads", "1", "-q", "--overwrite", "-o", run], check=True)
    subprocess.run([a.diffscope, "saliency", "--run", run, "--step", str(a.step), "--methods", "df-rise", "df-cam",
                    "--samples", str(samples), "--k", str(k), "--batch", str(batch), "--similarity", "mse",
                    "--seed", str(mask_seed), "--threads", "1", "-q"], check=True)
    meta = json.load(open(os.path.join(run, "run.json")))
    index = json.load(open(os.path.join(a.package, "model_index.json")))
    if index.get("prediction_type") != "flow":
        fail(f"{a.package} is not a flow-matching package")
    vocab = json.load(open(os.path.join(a.package, "tokenizer", "vocab.json")))
    length, eos = index["max_length"], vocab["<|endoftext|>"]
    uncond = [vocab["<|startoftext|>"]] + [eos] * (length - 1)
    text = torch.jit.load(os.path.join(a.package, "text_encoder", "model.pt"))
    transformer = torch.jit.load(os.path.join(a.package, "transformer", "model.pt"))
    decoder = torch.jit.load(os.path.join(a.package, "vae", "decoder.pt"))
    scaling = json.load(open(os.path.join(a.package, "vae", "config.json")))["scaling_factor"]
    with torch.no_grad():
        ctx = text(torch.tensor([uncond, meta["ids"]], dtype=torch.long))

    timesteps = [float(t) for t in meta["timesteps"]]
    t = timesteps[a.step]
    sigma = t / 1000.0
    sigma_next = timesteps[a.step + 1] / 1000.0 if a.step + 1 < len(timesteps) else 0.0
    x = torch.from_numpy(np.load(os.path.join(run, "latents.npy"))[a.step]).unsqueeze(0)
    h, w = x.shape[2], x.shape[3]

    def velocity(xs):
        """The guided velocity of a batch of flow samples."""
        out = []
        with torch.no_grad():
            for i in range(0, xs.shape[0], batch):
                b = xs[i:i + batch]
                n = b.shape[0]
                c = torch.cat([ctx[0:1].expand(n, -1, -1), ctx[1:2].expand(n, -1, -1)])
                v = transformer.forward_prediction(torch.cat([b, b]), torch.full((2 * n,), t), c) \
                    if hasattr(transformer, "forward_prediction") else transformer(torch.cat([b, b]), torch.full((2 * n,), t), c)[0]
                out.append(v[:n] + guidance * (v[n:] - v[:n]))
        return torch.cat(out)

    def decode(lat):
        with torch.no_grad():
            return torch.cat([decoder(lat[i:i + batch] / scaling).float() for i in range(0, lat.shape[0], batch)])

    sal_dir = os.path.join(run, "saliency", f"step_{a.step:03d}")
    failures = []

    # DF-RISE: the masks drawn one at a time, as diffscope draws them
    cells = max(2, min(h, w) // 4)
    ch, cw = h / cells, w / cells
    uh, uw = int(np.ceil((cells + 1) * ch)), int(np.ceil((cells + 1) * cw))
    p = 0.5
    g = torch.Generator().manual_seed(mask_seed)
    masks = []
    for _ in range(samples):
        grid = (torch.rand((1, 1, cells, cells), generator=g) < p).float()
        shift = torch.rand(2, generator=g)
        up = F.interpolate(grid, size=(uh, uw), mode="bilinear", align_corners=False)[0]
        dy, dx = int(float(shift[0]) * ch), int(float(shift[1]) * cw)
        masks.append(up[:, dy:dy + h, dx:dx + w])
    masks = torch.stack(masks)
    v0 = velocity(x)
    ref_x0 = x - sigma * v0
    xm = x * masks
    scores = mse_similarity(xm - sigma * velocity(xm), ref_x0)
    sal = torch.zeros(h, w, dtype=torch.float32)
    for i in range(samples):
        sal += masks[i][0] * float(scores[i])
    sal = torch.relu(sal / (samples * p))
    rise = ((sal - sal.min()) / (sal.max() - sal.min())).numpy()
    got = np.load(os.path.join(sal_dir, "df-rise.npy"))
    d_rise = float(np.abs(got - rise).max())
    print(f"DF-RISE map ({samples} masks) against the direct flow computation: max diff {d_rise:.3g}")
    if not d_rise <= 1e-4:
        failures.append(f"DF-RISE map differs by {d_rise:.3g}")

    # DF-CAM: autograd through the transformer's block outputs
    xin = torch.cat([x, x]).requires_grad_(False)
    out = transformer(xin, torch.full((2,), t), ctx)
    feats = list(out[2])
    grads = torch.autograd.grad(out[0].sum(), feats, allow_unused=True)
    cam = torch.zeros(h, w)
    for f, gr in zip(feats, grads):
        if gr is None:
            continue
        fa = f.detach()[0] + guidance * (f.detach()[1] - f.detach()[0])
        ga = gr[0] + guidance * (gr[1] - gr[0])
        c = torch.relu((ga.mean((1, 2), keepdim=True) * fa).sum(0))
        cam += F.interpolate(c[None, None], size=(h, w), mode="bilinear", align_corners=False)[0, 0]
    cam = ((cam - cam.min()) / (cam.max() - cam.min())).numpy()
    got = np.load(os.path.join(sal_dir, "df-cam.npy"))
    d_cam = float(np.abs(got - cam).max())
    print(f"DF-CAM map against autograd through transformer/model.pt: max diff {d_cam:.3g}")
    if not d_cam <= 1e-4:
        failures.append(f"DF-CAM map differs by {d_cam:.3g}")

    # insertion and deletion: one flow Euler step from each perturbed sample, decoded, against the unperturbed step
    rows = list(csv.DictReader(open(os.path.join(sal_dir, "curves.csv"))))
    x_next = x + (sigma_next - sigma) * v0
    vp_scale = float(np.sqrt((1 - sigma_next) ** 2 + sigma_next ** 2))
    ref_flow, ref_vp = decode(x_next), decode(x_next / vp_scale)
    n = h * w
    worst = {"flow": 0.0, "vp": 0.0}
    for method in ("df-rise", "df-cam", "random"):
        m_map = np.load(os.path.join(sal_dir, f"{method}.npy")).reshape(-1)
        order = np.argsort(-m_map, kind="stable")
        for curve in ("deletion", "insertion"):
            base = blur(x) if curve == "insertion" else torch.zeros_like(x)
            keep = torch.zeros(n)
            stages = []
            for stage in range(k + 1):
                keep[torch.from_numpy(order[(n * max(stage - 1, 0)) // k if stage else 0:(n * stage) // k])] = 1.0
                mk = keep.view(1, 1, h, w)
                stages.append(base * (1 - mk) + x * mk if curve == "insertion" else x * (1 - mk))
            xs = torch.cat(stages)
            nxt = xs + (sigma_next - sigma) * velocity(xs)
            flow_scores = mse_similarity(decode(nxt), ref_flow)
            vp_scores = mse_similarity(decode(nxt / vp_scale), ref_vp)
            written = [float(r["score"]) for r in rows if r["method"] == method and r["curve"] == curve]
            if len(written) != k + 1:
                fail(f"curves.csv has {len(written)} {method} {curve} rows, expected {k + 1}")
            df = float(np.abs(np.array(written) - np.array(flow_scores)).max())
            dv = float(np.abs(np.array(written) - np.array(vp_scores)).max())
            worst["flow"], worst["vp"] = max(worst["flow"], df), max(worst["vp"], dv)
            fr = np.linspace(0, 1, k + 1)
            print(f"{method:8s} {curve:9s}: normalised AUC written {np.trapz(minmax(written), fr):.4f}, "
                  f"flow {np.trapz(minmax(flow_scores), fr):.4f}, VP-scaled decode {np.trapz(minmax(vp_scores), fr):.4f};"
                  f" max diff to flow {df:.3g}, to VP-scaled {dv:.3g}")
    print(f"curves: max diff to the direct flow computation {worst['flow']:.3g}, to a VP-scaled decode "
          f"{worst['vp']:.3g} (sigma {sigma:.4f} -> {sigma_next:.4f}, VP scale {vp_scale:.4f})")
    if not worst["flow"] <= 1e-5:
        failures.append(f"insertion/deletion scores differ from the direct flow computation by {worst['flow']:.3g}")
    if failures:
        fail("; ".join(failures))
    print("OK")


if __name__ == "__main__":
    main()
