#!/usr/bin/python3
"""Train shapes-mmdit on CPU: an SD3-style joint-attention transformer (scripts/shapes/shapes_mmdit.py) with
rectified-flow matching (x_t = (1 - s) x0 + s noise, target noise - x0, s drawn logit-normal as SD3 trains, the
transformer given 1000 s as its timestep), on the same latents, tokenizer and text encoder as shapes-v1: the VAE and
the text encoder are taken from the shipped package and kept frozen (SD3 trains none of its text encoders either),
so the two shipped models differ only in the denoiser. The text is cut to --max-length tokens (the causal encoder's
first positions do not depend on the rest); the pooled vector is the hidden state at the first end-of-text token
(CLIP's pooled output). 10% empty captions for classifier-free guidance. Resumable: rerun the same command.
--init-from PACKAGE starts from a shipped package's transformer weights (model and EMA) instead of a random
initialisation (a warm restart: the learning-rate schedule starts again); --two-object-fraction oversamples the
two-object captions (the token "and"), as the UNet trainer does.

    /usr/bin/python3 scripts/shapes/train_shapes_mmdit.py --work scripts/.cache/train-mmdit --minutes 80
"""
import argparse
import copy
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_bpe import ClipBPE, build_vocab, shapes_words  # noqa: E402
from shapes_mmdit import SD3Transformer, pooled_from_hidden  # noqa: E402
from shapes_model import TextEncoder, count_params  # noqa: E402
from train_shapes_model import (keep_freed_memory, log_row, make_latent_set, save, train_vae,  # noqa: E402
                                vae_from_package)

TEXT_DIM, TEXT_LAYERS = 128, 2
MMDIT_CONFIG = dict(sample_size=16, patch_size=2, in_channels=4, num_layers=6, attention_head_dim=32,
                    num_attention_heads=4, joint_attention_dim=TEXT_DIM, caption_projection_dim=128,
                    pooled_projection_dim=TEXT_DIM, out_channels=4, pos_embed_max_size=16)


def text_encoder_from_package(package, vocab_size):
    """shapes-v1's text encoder (its TorchScript weights in the Python module), frozen."""
    text = TextEncoder(vocab_size, dim=TEXT_DIM, layers=TEXT_LAYERS)
    sd = torch.jit.load(os.path.join(package, "text_encoder/model.pt")).state_dict()
    text.load_state_dict({k: v for k, v in sd.items() if k != "causal_mask"})
    for p in text.parameters():
        p.requires_grad_(False)
    return text.eval()


def encode_captions(text, ids, eos_id, max_length):
    """Every distinct id row encoded once: (row index per sample, contexts [U, max_length, D], pooled [U, D])."""
    uniq, inverse = torch.unique(ids, dim=0, return_inverse=True)
    if not bool((uniq[:, :max_length] == eos_id).any(dim=1).all()):
        raise SystemExit(f"a caption does not end within {max_length} tokens")
    ctx, pooled = [], []
    with torch.no_grad():
        for start in range(0, uniq.shape[0], 512):
            u = uniq[start:start + 512]
            h = text(u)
            ctx.append(h[:, :max_length].clone())
            pooled.append(pooled_from_hidden(h, u, eos_id))
    return inverse, torch.cat(ctx), torch.cat(pooled)


def transformer_from_package(model, package):
    """A package's transformer weights (transformer/model.pt, TorchScript) loaded into the Python module, strictly."""
    sd = torch.jit.load(os.path.join(package, "transformer", "model.pt")).state_dict()
    model.load_state_dict({k[len("transformer."):]: v for k, v in sd.items() if k.startswith("transformer.")})


def train(work, minutes, seed, data, text, tok, batch, lr_max, max_length, init_from=None, two_fraction=None):
    ck = os.path.join(work, "mmdit.pt")
    model = SD3Transformer(**MMDIT_CONFIG)
    if init_from is not None and not os.path.exists(ck):
        transformer_from_package(model, init_from)
        print(f"MMDiT initialised from {init_from}", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=lr_max, weight_decay=1e-4)
    ema = copy.deepcopy(model)
    state = {"step": 0, "elapsed": 0.0, "done": False}
    if os.path.exists(ck):
        c = torch.load(ck)
        model.load_state_dict(c["model"]), opt.load_state_dict(c["opt"]), ema.load_state_dict(c["ema"])
        state = c["state"]
    if state["done"] and state["elapsed"] >= minutes * 60:
        return ema  # finished; a larger --minutes continues it (the cosine schedule stretched to the new length)
    eos = tok.encoder["<|endoftext|>"]
    row, ctx_table, pooled_table = encode_captions(text, data["ids"], eos, max_length)
    empty = torch.tensor([tok.context("")], dtype=torch.long)
    with torch.no_grad():
        h = text(empty)
        empty_ctx, empty_pooled = h[:, :max_length], pooled_from_hidden(h, empty, eos)
    print(f"MMDiT: {count_params(model)} parameters; {ctx_table.shape[0]} distinct captions; resuming at step "
          f"{state['step']}", flush=True)
    g = torch.Generator().manual_seed(seed + state["step"])
    n = data["latents"].shape[0]
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
        x0, r = data["latents"][idx], row[idx]
        ctx, pooled = ctx_table[r].clone(), pooled_table[r].clone()
        drop = torch.rand(batch, generator=g) < 0.1
        ctx[drop], pooled[drop] = empty_ctx, empty_pooled
        s = torch.sigmoid(torch.randn(batch, generator=g))  # logit-normal(0, 1), SD3's default weighting scheme
        noise = torch.randn(x0.shape, generator=g)
        xt = (1 - s)[:, None, None, None] * x0 + s[:, None, None, None] * noise
        pred = model(xt, ctx, pooled, s * 1000.0)
        loss = F.mse_loss(pred, noise - x0)
        frac = (time.time() - t_start) / (minutes * 60)
        lr = lr_max * min(1.0, state["step"] / 200) * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * min(frac, 1.0))))
        for pg in opt.param_groups:
            pg["lr"] = lr
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        state["step"] += 1
        decay = min(0.999, (1 + state["step"]) / (10 + state["step"]))
        with torch.no_grad():
            for p, q in zip(model.parameters(), ema.parameters()):
                q.mul_(decay).add_(p.detach(), alpha=1 - decay)
        if state["step"] % 25 == 0:
            log_row(os.path.join(work, "losses_mmdit.csv"), [state["step"], time.time() - t_start, loss.item(), lr],
                    ["step", "seconds", "loss", "lr"])
            print(f"mmdit step {state['step']} loss {loss.item():.4f} lr {lr:.2e} "
                  f"({(time.time() - t_start) / 60:.1f} min)", flush=True)
        if time.time() - last_save > 120:
            state["elapsed"] = time.time() - t_start
            save(ck, {"model": model.state_dict(), "opt": opt.state_dict(), "ema": ema.state_dict(), "state": state})
            last_save = time.time()
    state["done"] = True
    state["elapsed"] = time.time() - t_start
    save(ck, {"model": model.state_dict(), "opt": opt.state_dict(), "ema": ema.state_dict(), "state": state})
    print("MMDiT done", flush=True)
    return ema


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".cache",
                                                   "train-mmdit"))
    ap.add_argument("--package", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                      "models", "shapes-v1"),
                    help="the package whose VAE and text encoder are used (frozen)")
    ap.add_argument("--minutes", type=float, default=80)
    ap.add_argument("--latent-set", type=int, default=40000)
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--max-length", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init-from", default=None, help="a package whose transformer weights start the training")
    ap.add_argument("--two-object-fraction", type=float, default=None,
                    help="share of each batch drawn from two-object captions (default: as the latent set has them)")
    a = ap.parse_args()
    keep_freed_memory()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    os.makedirs(a.work, exist_ok=True)
    vocab, merges = build_vocab(shapes_words())
    tok = ClipBPE(vocab, merges)
    if not os.path.exists(os.path.join(a.work, "vae.pt")):
        vae_from_package(a.work, a.package)
    vae = train_vae(a.work, 0, a.seed)
    data = make_latent_set(a.work, vae, tok, a.latent_set, a.seed + 1)
    text = text_encoder_from_package(a.package, len(tok.encoder))
    train(a.work, a.minutes, a.seed + 2, data, text, tok, a.batch, a.lr, a.max_length, a.init_from,
          a.two_object_fraction)
    print("training finished", flush=True)


if __name__ == "__main__":
    main()
