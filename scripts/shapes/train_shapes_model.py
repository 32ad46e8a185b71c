#!/usr/bin/python3
"""Train shapes-v1 on CPU: the VAE first, then the text encoder and UNet together (epsilon prediction, SD 1.5's
scaled_linear betas, 10% caption dropout for classifier-free guidance). Resumable: rerun the same command and it
continues from the last checkpoint in --work. Losses go to --work/losses_{vae,unet}.csv.

    /usr/bin/python3 scripts/shapes/train_shapes_model.py --work scripts/.cache/train --vae-minutes 9 --unet-minutes 50
"""
import argparse
import copy
import csv
import ctypes
import json
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_bpe import ClipBPE, build_vocab, shapes_words  # noqa: E402
from shapes_dataset import sample_scene  # noqa: E402
from shapes_model import AutoencoderKL, TextEncoder, UNet, count_params  # noqa: E402

UNET_CHANNELS = (64, 64, 96)
TEXT_DIM, TEXT_LAYERS = 128, 2


def keep_freed_memory():
    """Serve large buffers from the heap and keep freed memory: glibc otherwise mmaps every buffer over 32 MB (the
    16x16 self-attention scores of a batch of 48 are 50 MB) and returns it on free, and the page faults of refilling
    it cost most of a step here (measured: 3.4 s per step of batch 48 without, 1.06 s with, on the same day)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to tune
        return
    libc.mallopt(-3, ctypes.c_int(1 << 30))  # M_MMAP_THRESHOLD
    libc.mallopt(-1, ctypes.c_int(1 << 30))  # M_TRIM_THRESHOLD


def sd15_alphas_cumprod():
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    return torch.cumprod(1.0 - betas, dim=0).float()


def batch_images(rng, n, split="train"):
    imgs, caps = [], []
    for _ in range(n):
        img, cap, _, _ = sample_scene(rng, split)
        imgs.append(img)
        caps.append(cap)
    x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    return x, caps


def save(path, obj):
    torch.save(obj, path + ".tmp")
    os.replace(path + ".tmp", path)


def log_row(path, row, header):
    new = not os.path.exists(path)
    with open(path, "a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(header)
        w.writerow(row)


def train_vae(work, minutes, seed):
    ck = os.path.join(work, "vae.pt")
    vae = AutoencoderKL()
    opt = torch.optim.AdamW(vae.parameters(), lr=1e-3, weight_decay=0.0)
    state = {"step": 0, "elapsed": 0.0, "done": False}
    if os.path.exists(ck):
        c = torch.load(ck)
        vae.load_state_dict(c["model"]), opt.load_state_dict(c["opt"])
        state = c["state"]
    if state["done"]:
        return vae
    print(f"VAE: {count_params(vae)} parameters, resuming at step {state['step']}", flush=True)
    rng = random.Random(seed + state["step"])
    t_start, last_save = time.time() - state["elapsed"], time.time()
    while time.time() - t_start < minutes * 60:
        x, _ = batch_images(rng, 32)
        mean, logvar = vae.encoder(x)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
        rec = vae.decoder(z)
        mse = F.mse_loss(rec, x)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()
        loss = mse + 0.1 * F.l1_loss(rec, x) + 1e-6 * kl
        frac = (time.time() - t_start) / (minutes * 60)
        for g in opt.param_groups:
            g["lr"] = 1e-3 * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * min(frac, 1.0))))
        opt.zero_grad()
        loss.backward()
        opt.step()
        state["step"] += 1
        if state["step"] % 25 == 0:
            psnr = 10 * np.log10(4.0 / max(mse.item(), 1e-10))
            log_row(os.path.join(work, "losses_vae.csv"), [state["step"], time.time() - t_start, mse.item(), kl.item(), psnr],
                    ["step", "seconds", "mse", "kl", "psnr_db"])
            print(f"vae step {state['step']} mse {mse.item():.5f} psnr {psnr:.1f} dB", flush=True)
        if time.time() - last_save > 120:
            state["elapsed"] = time.time() - t_start
            save(ck, {"model": vae.state_dict(), "opt": opt.state_dict(), "state": state})
            last_save = time.time()
    # scaling factor = 1 / std of latent means, as Stable Diffusion's
    with torch.no_grad():
        x, _ = batch_images(random.Random(seed + 999), 1024)
        mean, _ = vae.encoder(x)
        vae.scaling_factor.fill_(1.0 / mean.std().item())
    state["done"] = True
    state["elapsed"] = time.time() - t_start
    save(ck, {"model": vae.state_dict(), "opt": opt.state_dict(), "state": state})
    print(f"VAE done: scaling_factor {vae.scaling_factor.item():.5f}", flush=True)
    return vae


def vae_from_package(work, package):
    """Start from an exported package's VAE instead of training one: its TorchScript encoder/decoder weights and
    scaling factor become a finished VAE checkpoint in --work (the UNet phase then runs on the same latents)."""
    vae = AutoencoderKL()
    enc = torch.jit.load(os.path.join(package, "vae/encoder.pt")).state_dict()  # traced wrapper: keys "enc.*"
    dec = torch.jit.load(os.path.join(package, "vae/decoder.pt")).state_dict()
    sd = {"encoder." + k[len("enc."):]: v for k, v in enc.items() if k.startswith("enc.")}
    sd.update({"decoder." + k: v for k, v in dec.items()})
    with open(os.path.join(package, "vae/config.json")) as f:
        sd["scaling_factor"] = torch.tensor(json.load(f)["scaling_factor"])
    vae.load_state_dict(sd)  # strict: a package of another architecture fails here, naming the keys
    opt = torch.optim.AdamW(vae.parameters(), lr=1e-3, weight_decay=0.0)
    save(os.path.join(work, "vae.pt"), {"model": vae.state_dict(), "opt": opt.state_dict(),
                                        "state": {"step": 0, "elapsed": 0.0, "done": True, "from": package}})
    print(f"VAE from {package}: scaling_factor {vae.scaling_factor.item():.5f}", flush=True)


def make_latent_set(work, vae, tok, count, seed):
    path = os.path.join(work, "latents.pt")
    if os.path.exists(path):
        return torch.load(path)
    rng = random.Random(seed)
    lats, ids = [], []
    with torch.no_grad():
        for start in range(0, count, 256):
            x, caps = batch_images(rng, min(256, count - start))
            mean, _ = vae.encoder(x)
            lats.append(mean * vae.scaling_factor)
            ids.extend(tok.context(c) for c in caps)
    data = {"latents": torch.cat(lats), "ids": torch.tensor(ids, dtype=torch.long)}
    save(path, data)
    print(f"latent set: {tuple(data['latents'].shape)}", flush=True)
    return data


def train_unet(work, minutes, seed, tok, data, batch, lr_max=1e-3, two_fraction=None, min_snr_gamma=None):
    ck = os.path.join(work, "unet.pt")
    unet = UNet(channels=UNET_CHANNELS, context_dim=TEXT_DIM)
    text = TextEncoder(len(tok.encoder), dim=TEXT_DIM, layers=TEXT_LAYERS)
    params = list(unet.parameters()) + list(text.parameters())
    opt = torch.optim.AdamW(params, lr=lr_max, weight_decay=1e-4)
    ema_u, ema_t = copy.deepcopy(unet), copy.deepcopy(text)
    state = {"step": 0, "elapsed": 0.0, "done": False}
    if os.path.exists(ck):
        c = torch.load(ck)
        unet.load_state_dict(c["unet"]), text.load_state_dict(c["text"]), opt.load_state_dict(c["opt"])
        ema_u.load_state_dict(c["ema_unet"]), ema_t.load_state_dict(c["ema_text"])
        state = c["state"]
    if state["done"]:
        return ema_u, ema_t
    print(f"UNet: {count_params(unet)} parameters, text encoder {count_params(text)}; resuming at step {state['step']}",
          flush=True)
    acp = sd15_alphas_cumprod()
    empty = torch.tensor(tok.context(""), dtype=torch.long)
    g = torch.Generator().manual_seed(seed + state["step"])
    n = data["latents"].shape[0]
    # two-object captions hold the token "and"; --two-object-fraction oversamples them (binding is the hard part)
    two = (data["ids"] == tok.encoder["and</w>"]).any(dim=1)
    two_idx, one_idx = torch.nonzero(two).flatten(), torch.nonzero(~two).flatten()
    n_two = None if two_fraction is None else int(round(two_fraction * batch))
    t_start, last_save = time.time() - state["elapsed"], time.time()
    while time.time() - t_start < minutes * 60:
        if n_two is None:
            idx = torch.randint(0, n, (batch,), generator=g)
        else:
            idx = torch.cat([two_idx[torch.randint(0, len(two_idx), (n_two,), generator=g)],
                             one_idx[torch.randint(0, len(one_idx), (batch - n_two,), generator=g)]])
        x0, ids = data["latents"][idx], data["ids"][idx].clone()
        drop = torch.rand(batch, generator=g) < 0.1
        ids[drop] = empty
        t = torch.randint(0, 1000, (batch,), generator=g)
        noise = torch.randn(x0.shape, generator=g)
        a = acp[t][:, None, None, None]
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        pred = unet(xt, t.float(), text(ids))
        if min_snr_gamma is None:
            loss = F.mse_loss(pred, noise)
        else:  # Min-SNR-gamma weighting (Hang et al. 2023) for epsilon prediction: min(SNR, gamma) / SNR
            snr = acp[t] / (1 - acp[t])
            w = torch.clamp(snr, max=min_snr_gamma) / snr
            loss = (w * (pred - noise).pow(2).flatten(1).mean(1)).mean()
        frac = (time.time() - t_start) / (minutes * 60)
        lr = lr_max * min(1.0, state["step"] / 200) * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * min(frac, 1.0))))
        for pg in opt.param_groups:
            pg["lr"] = lr
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        state["step"] += 1
        decay = min(0.999, (1 + state["step"]) / (10 + state["step"]))
        with torch.no_grad():
            for m, e in ((unet, ema_u), (text, ema_t)):
                for p, q in zip(m.parameters(), e.parameters()):
                    q.mul_(decay).add_(p.detach(), alpha=1 - decay)
        if state["step"] % 25 == 0:
            log_row(os.path.join(work, "losses_unet.csv"), [state["step"], time.time() - t_start, loss.item(), lr],
                    ["step", "seconds", "loss", "lr"])
            print(f"unet step {state['step']} loss {loss.item():.4f} lr {lr:.2e} "
                  f"({(time.time() - t_start) / 60:.1f} min)", flush=True)
        if time.time() - last_save > 120:
            state["elapsed"] = time.time() - t_start
            save(ck, {"unet": unet.state_dict(), "text": text.state_dict(), "opt": opt.state_dict(),
                      "ema_unet": ema_u.state_dict(), "ema_text": ema_t.state_dict(), "state": state})
            last_save = time.time()
    state["done"] = True
    state["elapsed"] = time.time() - t_start
    save(ck, {"unet": unet.state_dict(), "text": text.state_dict(), "opt": opt.state_dict(),
              "ema_unet": ema_u.state_dict(), "ema_text": ema_t.state_dict(), "state": state})
    print("UNet done", flush=True)
    return ema_u, ema_t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".cache", "train"))
    ap.add_argument("--vae-minutes", type=float, default=9)
    ap.add_argument("--unet-minutes", type=float, default=50)
    ap.add_argument("--latent-set", type=int, default=40000)
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--vae-from", metavar="PACKAGE",
                    help="take the VAE from an exported package (e.g. models/shapes-v1) instead of training it")
    ap.add_argument("--lr", type=float, default=1e-3, help="UNet/text encoder peak learning rate")
    ap.add_argument("--two-object-fraction", type=float,
                    help="share of two-object captions in each UNet batch (default: the data's own, about 0.5)")
    ap.add_argument("--min-snr-gamma", type=float,
                    help="weight the UNet loss by min(SNR, gamma) / SNR (Min-SNR; default: plain MSE)")
    a = ap.parse_args()
    keep_freed_memory()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    os.makedirs(a.work, exist_ok=True)
    vocab, merges = build_vocab(shapes_words())
    tok = ClipBPE(vocab, merges)
    if a.vae_from and not os.path.exists(os.path.join(a.work, "vae.pt")):
        vae_from_package(a.work, a.vae_from)
    vae = train_vae(a.work, a.vae_minutes, a.seed)
    data = make_latent_set(a.work, vae, tok, a.latent_set, a.seed + 1)
    train_unet(a.work, a.unet_minutes, a.seed + 2, tok, data, a.batch, a.lr, a.two_object_fraction, a.min_snr_gamma)
    print("training finished", flush=True)


if __name__ == "__main__":
    main()
