#!/usr/bin/python3
"""ConceptAttention on shapes-mmdit as published (Helbling et al. 2025), beside diffscope's default use of it, on
exact masks; and the joint attention's image-to-text maps per layer, taken apart (issue 39, item 3).

For the 20 prompts of tests/data/shapes_prompts.txt with their seeds the package is sampled as diffscope samples it
(flow Euler, 25 steps, guidance 5, the conditional half's maps). At every step the exported transformer's
forward_concepts gives, per block, ConceptAttention's maps: per image token, the softmax over the concepts given of
the dot products between its attention output and each concept token's (before the output projections, as the
paper's reference code). diffscope encodes a concept as the next word after the prompt (its default
--concept-context prompt); this script encodes it the same way and checks the maps against a diffscope run folder
when --check-run is given. The paper's recipe, as its reference code runs it: softmax over the concepts at each
(step, block), then the mean over the steps and over the late double-stream blocks (Flux: blocks 15-18 of 19);
its concept vocabulary is the image's classes plus background words ("background", ...).

Vocabularies, per word class (colour, shape: one softmax per class, as the classes' words are mutually exclusive
at a pixel):
  class       every word of the class (diffscope's study, results.md "UNet cross-attention against MMDiT");
  class+bg    the same and "background";
  present+bg  the prompt's words of the class and "background" (the paper's vocabulary).
With the paper's vocabulary two more recipes: each concept encoded on its own (the paper's embed_concepts encodes
each alone), and on top of that the concept stream modulated by the timestep embedding with a zero pooled vector (the
paper passes Flux a zero vector for the concepts). That last one is computed by direct_concept_maps, ConceptAttention
written out on the plain Python module; every other recipe runs through the export, and the direct implementation
is checked against it at every step (velocity and maps; the run fails above 1e-4).
Layer sets: each block alone, all six, the last four (2-5; the paper's count).

Scores per word of the prompt whose object is in the generated image (palette segmentation, shapes_concepts.py):
ROC-AUC and average precision (scikit-learn), IoU and the paper's binary mIoU (the mean of the object's and the
background's IoU) of the map thresholded at its mean (the paper's threshold). Controls: the word-blind blurred
foreground (diffscope's, sigma 1/32 of the side) and the cross-word score (the same map against the other object's
pixels in two-object scenes; own minus cross is the specificity). Mean [95% bootstrap interval] (n maps).

The image-to-text maps per block (forward's maps: the image queries' joint-softmax probabilities on the text
tokens) are scored raw, renormalised over the text tokens (the share of a patch's text attention its word gets),
and by their text share (the sum over the text tokens: how much of a patch's attention goes to text at all, scored
against the foreground). Also per head.

    /usr/bin/python3 scripts/shapes/concept_attention_study.py [--model models/shapes-mmdit-v1] [--json out.json]
          [--check-run RUN --check-prompt 0]     (about 3 minutes on 1 or 2 threads)
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import average_precision_score, roc_auc_score

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, HERE)
from clip_bpe import ClipBPE  # noqa: E402
from concepts_study import CLASSES, ci, prompts  # noqa: E402
from shapes_concepts import segment  # noqa: E402

WORD_CLASSES = ("colour", "shape")
BACKGROUND = "background"
# (vocabulary, concept encoding, the concept stream's modulation): diffscope's (--concept-context prompt: the word
# encoded as the next word after the prompt; the text stream's adaptive norms) and, last, the paper's reference code's
# (each concept encoded on its own; the concept stream modulated by the timestep embedding with a zero pooled text
# vector, as its embed_concepts passes Flux a zero vector for the concepts)
RECIPES = {"class": ("class", "prompt", "prompt"), "class+bg": ("class+bg", "prompt", "prompt"),
           "present+bg": ("present+bg", "prompt", "prompt"),
           "present+bg, alone": ("present+bg", "alone", "prompt"),
           "present+bg, alone, zero pooled": ("present+bg", "alone", "zero")}


class Package:
    def __init__(self, d):
        self.index = json.load(open(os.path.join(d, "model_index.json")))
        if self.index.get("prediction_type") != "flow":
            raise SystemExit(f"{d}: expected a flow-matching transformer package (shapes-mmdit)")
        self.tok = ClipBPE.from_files(os.path.join(d, "tokenizer/vocab.json"), os.path.join(d, "tokenizer/merges.txt"))
        self.text = torch.jit.load(os.path.join(d, "text_encoder/model.pt"))
        self.transformer = torch.jit.load(os.path.join(d, "transformer/model.pt"))
        self.layers = [l["name"] for l in json.load(open(os.path.join(d, "transformer/layers.json")))["joint_attention"]]
        self.dec = torch.jit.load(os.path.join(d, "vae/decoder.pt"))
        self.scale = json.load(open(os.path.join(d, "vae/config.json")))["scaling_factor"]
        self.ml = self.index.get("max_length", 77)

    def encode_concepts(self, words, prompt):
        """diffscope's Model::encode_concepts: each concept encoded as the next word after `prompt` (--concept-context
        prompt) or on its own (prompt "": alone), the mean of its own tokens' hidden states (those before the end
        token)."""
        rows = []
        for c in words:
            n = len(self.tok.encode(c))
            text = (prompt + " " + c) if prompt else c
            ids = self.tok.context(text, self.ml)
            length = len(self.tok.encode(text)) + 2
            if length > self.ml:
                raise SystemExit(f'"{c}" does not fit after "{prompt}"')
            h = self.text(torch.tensor([ids]))[0]
            rows.append(h[length - 1 - n:length - 1].mean(0))
        return torch.stack(rows)

    def word_tokens(self, prompt):
        """{word: token positions} for the prompt's words (after the start token)."""
        out, pos = {}, 1
        for w in prompt.split():
            n = len(self.tok.encode(w))
            out.setdefault(w, []).extend(range(pos, pos + n))
            pos += n
        return out


def direct_concept_maps(model, sample, timestep, tokens, pooled, concepts, concept_pooled=None):
    """ConceptAttention written out on the plain Python module (scripts/shapes/shapes_mmdit.py), without the export's
    capture processors: per block, the concept tokens take the text stream's adaptive norm, projections and
    feed-forward; their queries attend to the image tokens and to the concepts; the map is, per image token, the
    softmax over the concepts of the dot products of the image token's and the concepts' attention outputs (before
    the output projections). concept_pooled: the pooled vector of the concept stream's modulation (None: the
    prompt's, as diffscope; zeros: the paper's reference code). Returns the velocity and the maps [blocks][B, N, C]."""
    x = model.pos_embed(sample)
    temb = model.time_text_embed(timestep, pooled)
    ctemb = temb if concept_pooled is None else model.time_text_embed(timestep, concept_pooled)
    ctx, c = model.context_embedder(tokens), model.context_embedder(concepts)
    n = x.shape[1]
    maps = []
    for blk in model.transformer_blocks:
        a = blk.attn

        def split(t):
            return t.view(t.shape[0], t.shape[1], a.heads, -1).transpose(1, 2)

        def join(t):
            return t.transpose(1, 2).reshape(t.shape[0], t.shape[2], -1)

        def attend(q, k, v):
            return torch.matmul((torch.matmul(q, k.transpose(-1, -2)) * a.scale).softmax(dim=-1), v)

        nh, g1, sh2, sc2, g2 = blk.norm1(x, temb)
        if blk.context_pre_only:
            nt, nc = blk.norm1_context(ctx, temb), blk.norm1_context(c, ctemb)
        else:
            nt, tg1, tsh2, tsc2, tg2 = blk.norm1_context(ctx, temb)
            nc, cg1, csh2, csc2, cg2 = blk.norm1_context(c, ctemb)
        q, k, v = split(a.to_q(nh)), split(a.to_k(nh)), split(a.to_v(nh))
        tq, tk, tv = split(a.add_q_proj(nt)), split(a.add_k_proj(nt)), split(a.add_v_proj(nt))
        cq, ck, cv = split(a.add_q_proj(nc)), split(a.add_k_proj(nc)), split(a.add_v_proj(nc))
        out = attend(torch.cat([q, tq], 2), torch.cat([k, tk], 2), torch.cat([v, tv], 2))
        image_o, text_o = join(out[:, :, :n]), join(out[:, :, n:])
        concept_o = join(attend(cq, torch.cat([k, ck], 2), torch.cat([v, cv], 2)))
        maps.append(torch.matmul(image_o, concept_o.transpose(-1, -2)).softmax(dim=-1))
        x = x + g1[:, None] * a.to_out[0](image_o)
        x = x + g2[:, None] * blk.ff(blk.norm2(x) * (1 + sc2[:, None]) + sh2[:, None])
        if not blk.context_pre_only:
            ctx = ctx + tg1[:, None] * a.to_add_out(text_o)
            ctx = ctx + tg2[:, None] * blk.ff_context(blk.norm2_context(ctx) * (1 + tsc2[:, None]) + tsh2[:, None])
            c = c + cg1[:, None] * a.to_add_out(concept_o)
            c = c + cg2[:, None] * blk.ff_context(blk.norm2_context(c) * (1 + csc2[:, None]) + csh2[:, None])
    x = model.proj_out(model.norm_out(x, temb))
    p = model.config["patch_size"]
    h, w = sample.shape[-2] // p, sample.shape[-1] // p
    x = torch.einsum("nhwpqc->nchpwq", x.reshape(x.shape[0], h, w, p, p, model.out_channels))
    return x.reshape(x.shape[0], model.out_channels, h * p, w * p), maps


@torch.no_grad()
def sample(pkg, prompt, seed, recipes, steps=25, guidance=5.0, direct=None):
    """Flow Euler with guidance (diffscope's flow_euler); per step and block: ConceptAttention maps per recipe
    (label -> (words, encoding, modulation)) [steps, blocks, N, C] and the conditional image-to-text maps
    [steps, blocks, heads, N, L]. Returns those, the decoded image (uint8 HxWx3), the final latent and the largest
    difference between the direct implementation and the export (velocity and maps, diffscope's recipes)."""
    ml = pkg.ml
    ids = torch.tensor([pkg.tok.context(prompt, ml), pkg.tok.context("", ml)])
    ctx = pkg.text(ids)
    lat = pkg.index["sample_size"] // pkg.index["vae_scale_factor"]
    x = torch.randn((1, pkg.index["latent_channels"], lat, lat), generator=torch.Generator().manual_seed(seed))
    sig = np.append(np.linspace(1000.0, 1.0, steps).astype(np.float32) / np.float32(1000), np.float32(0))
    concepts = {k: pkg.encode_concepts(ws, prompt if enc == "prompt" else "")[None]
                for k, (ws, enc, _) in recipes.items()}
    cmaps = {k: [] for k in recipes}
    tmaps = []
    diff = 0.0
    for i in range(steps):
        t = torch.full((2,), float(sig[i]) * 1000.0)
        out = pkg.transformer(torch.cat([x, x]), t, ctx)
        v, maps = out[0], out[1]
        tmaps.append(torch.stack([m[0] for m in maps]))
        for k, c in concepts.items():
            mod = recipes[k][2]
            if mod == "prompt":
                vel, _, _, cm = pkg.transformer.forward_concepts(x, t[:1], ctx[:1], c)
                cm = [m[:, 0] for m in cm]
            if direct is not None:
                tokens, pooled = ctx[:1, :-1], ctx[:1, -1]
                dv, dm = direct_concept_maps(direct, x, t[:1], tokens, pooled, c,
                                             None if mod == "prompt" else torch.zeros_like(pooled))
                if mod == "prompt":
                    diff = max(diff, float((dv - vel).abs().max()),
                               max(float((a - b).abs().max()) for a, b in zip(dm, cm)))
                else:
                    cm = dm
            elif mod != "prompt":
                raise SystemExit("the paper's modulation needs the direct implementation")
            cmaps[k].append(torch.stack([m[0] for m in cm]))
        v = v[1:] + guidance * (v[:1] - v[1:])
        x = x + (float(sig[i + 1]) - float(sig[i])) * v
    img = pkg.dec(x / pkg.scale)
    img = ((img[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    return {k: torch.stack(v).numpy() for k, v in cmaps.items()}, torch.stack(tmaps).numpy(), img, x, diff


def upsample(m, size):
    """[..., N] patch-grid maps -> [..., size, size], bilinear (diffscope's attention capture)."""
    n = int(round(m.shape[-1] ** 0.5))
    t = torch.from_numpy(np.ascontiguousarray(m, dtype=np.float32)).reshape(-1, 1, n, n)
    u = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)
    return u.reshape(*m.shape[:-1], size, size).numpy()


def score(m, mask):
    """ROC-AUC, AP, IoU and the paper's binary mIoU of map m against boolean mask (same shape)."""
    y, s = mask.ravel().astype(int), m.ravel().astype(np.float64)
    if y.min() == y.max():
        return None
    pred = s > s.mean()
    iou_fg = (pred & (y == 1)).sum() / max(1, (pred | (y == 1)).sum())
    iou_bg = (~pred & (y == 0)).sum() / max(1, (~pred | (y == 0)).sum())
    return {"roc_auc": roc_auc_score(y, s), "ap": average_precision_score(y, s), "iou": iou_fg,
            "miou": 0.5 * (iou_fg + iou_bg)}


def blurred_foreground(fg):
    import cv2
    side = max(fg.shape)
    return cv2.GaussianBlur(fg.astype(np.float32), (0, 0), side / 32.0)


def masks_for(objs, shape):
    out = {}
    for o in objs:
        for w in (o["colour"], o["shape"]):
            out[w] = out.get(w, np.zeros(shape, bool)) | o["mask"]
    fg = np.zeros(shape, bool)
    for o in objs:
        fg |= o["mask"]
    out[BACKGROUND] = ~fg
    return out, fg


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "shapes-mmdit-v1"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="write every score here")
    ap.add_argument("--check-run", help="only check: a diffscope run folder of prompt --check-prompt (generate "
                                        "--concepts with vocabulary --check-vocab of word class --check-class, "
                                        "--layers --check-layers): its concept maps must equal this script's")
    ap.add_argument("--check-prompt", type=int, default=0, help="index into tests/data/shapes_prompts.txt")
    ap.add_argument("--check-class", default="colour", choices=WORD_CLASSES)
    ap.add_argument("--check-vocab", default="class+bg", choices=[r for r, v in RECIPES.items() if v[2] == "prompt"])
    ap.add_argument("--check-layers", help="comma-separated blocks (default all)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    pkg = Package(a.model)
    from train_shapes_mmdit import MMDIT_CONFIG, transformer_from_package
    from shapes_mmdit import SD3Transformer
    direct = None
    if not a.check_run:
        direct = SD3Transformer(**MMDIT_CONFIG)
        transformer_from_package(direct, a.model)
        direct.eval()
    worst = 0.0
    nl = len(pkg.layers)
    layer_sets = {f"block {i}": [i] for i in range(nl)}
    layer_sets["all six"] = list(range(nl))
    layer_sets["last four (2-5)"] = list(range(max(0, nl - 4), nl))
    scores = {}  # key tuple -> list of values

    def put(key, v):
        scores.setdefault(key, []).append(float(v))

    def add(key, s):
        if s is None:
            return
        for metric, v in s.items():
            put(key + (metric,), v)

    rng = np.random.default_rng(0)
    for pi, (seed, p) in enumerate(prompts()):
        if a.check_run and pi != a.check_prompt:
            continue
        words = p.split()
        vocab, recipes = {}, {}
        for cls in WORD_CLASSES:
            present = [w for w in CLASSES[cls] if w in words]
            words_of = {"class": list(CLASSES[cls]), "class+bg": list(CLASSES[cls]) + [BACKGROUND],
                        "present+bg": present + [BACKGROUND] if present else None}
            for label, (vk, enc, mod) in RECIPES.items():
                if words_of[vk] and (not a.check_run or (label == a.check_vocab and cls == a.check_class)):
                    vocab[(cls, label)] = words_of[vk]
                    recipes[(cls, label)] = (words_of[vk], enc, mod)
        cmaps, tmaps, img, x, diff = sample(pkg, p, seed, recipes, direct=direct)
        worst = max(worst, diff)
        H = img.shape[0]
        objs = segment(img)
        masks, fg = masks_for(objs, img.shape[:2])
        fg_ctrl = blurred_foreground(fg)
        tokens_of = pkg.word_tokens(p)  # word -> token positions
        if a.check_run:
            ls = [int(v) for v in a.check_layers.split(",")] if a.check_layers else list(range(nl))
            return check(a.check_run, cmaps[(a.check_class, a.check_vocab)], x, ls)
        for cls in WORD_CLASSES:
            present = [w for w in CLASSES[cls] if w in words and w in masks]
            for w in present:
                others = [o for o in present if o != w]
                add(("control", "blurred foreground", cls), score(fg_ctrl, masks[w]))
                for vk in RECIPES:
                    ws = vocab.get((cls, vk))
                    if not ws:
                        continue
                    cm = cmaps[(cls, vk)]  # [steps, blocks, N, C]
                    for ls_name, ls in layer_sets.items():
                        m = upsample(cm[:, ls].mean((0, 1))[:, ws.index(w)], H)
                        add(("concept", vk, ls_name, cls), score(m, masks[w]))
                        keep = ~masks[w]
                        for o in others:  # cross-word: this word's map on the other object (own pixels left out)
                            s = score(m[keep], masks[o][keep])
                            if s:
                                put(("concept-cross", vk, ls_name, cls, "roc_auc"), s["roc_auc"])
                # image-to-text maps of the word's tokens, per block: raw, renormalised over text, per head
                tok = tokens_of[w]
                for li in range(nl):
                    tl = tmaps[:, li]                   # [steps, heads, N, L]
                    raw = tl[..., tok].sum(-1)          # [steps, heads, N]
                    share = tl.sum(-1)                  # [steps, heads, N]: the text share
                    add(("token raw", li, cls), score(upsample(raw.mean((0, 1)), H), masks[w]))
                    ren = (raw / np.maximum(share, 1e-12)).mean((0, 1))
                    add(("token renormalised", li, cls), score(upsample(ren, H), masks[w]))
                    for h in range(raw.shape[1]):
                        add(("token raw head", li, h, cls), score(upsample(raw[:, h].mean(0), H), masks[w]))
                raw_all = tmaps[..., tok].sum(-1).mean((0, 1, 2))
                add(("token raw", "all six", cls), score(upsample(raw_all, H), masks[w]))
            # a background word: its ConceptAttention map against the background
            for vk in [r for r in RECIPES if r != "class"]:
                ws = vocab.get((cls, vk))
                if ws and present:
                    for ls_name, ls in layer_sets.items():
                        m = upsample(cmaps[(cls, vk)][:, ls].mean((0, 1))[:, ws.index(BACKGROUND)], H)
                        add(("background", vk, ls_name, cls), score(m, masks[BACKGROUND]))
        # the text share per block against the foreground (a word-blind property of the block), and where the text
        # attention goes: the start token, the prompt's word tokens, the end/padding tokens
        n_tok = len(pkg.tok.encode(p)) + 2
        parts = (("start", [0]), ("words", [t for ts in tokens_of.values() for t in ts]),
                 ("end+padding", list(range(n_tok - 1, tmaps.shape[-1]))))
        for li in range(nl):
            sh = tmaps[:, li].mean((0, 1))  # [N, L]
            share = upsample(tmaps[:, li].sum(-1).mean((0, 1)), H)
            add(("text share", li), score(share, fg))
            put(("text share fg mean", li), share[fg].mean())
            put(("text share bg mean", li), share[~fg].mean())
            for part, cols in parts:
                m = upsample(sh[:, cols].sum(-1), H)
                put(("text split", li, part, "fg"), m[fg].mean())
                put(("text split", li, part, "bg"), m[~fg].mean())
        print(f"[{pi + 1}/20] {p}: {len(objs)} objects", file=sys.stderr, flush=True)

    def fmt(key, digits=3):
        v = scores.get(key)
        if not v:
            return "-"
        m, lo, hi = ci(v, rng)
        return f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}] ({len(v)})"

    def mean(key):
        v = scores.get(key)
        return "-" if not v else f"{np.mean(v):.3f}"

    print(f"the direct implementation against the export (velocity and concept maps, every step): max diff {worst:.3g}",
          file=sys.stderr)
    if worst > 1e-4:
        raise SystemExit("the export's ConceptAttention differs from the direct implementation")
    print(f"\n## ConceptAttention on {os.path.basename(os.path.normpath(a.model))}: vocabulary x layers (ROC-AUC)\n")
    print("| recipe | layers | colour | shape | AP colour / shape | mIoU (paper's, binary) colour / shape | "
          "cross-word ROC-AUC colour / shape |")
    print("|---|---|---|---|---|---|---|")
    for vk in RECIPES:
        for ls_name in layer_sets:
            k = ("concept", vk, ls_name)
            print(f"| {vk} | {ls_name} | {fmt(k + ('colour', 'roc_auc'))} | {fmt(k + ('shape', 'roc_auc'))} | "
                  f"{mean(k + ('colour', 'ap'))} / {mean(k + ('shape', 'ap'))} | "
                  f"{mean(k + ('colour', 'miou'))} / {mean(k + ('shape', 'miou'))} | "
                  f"{mean(('concept-cross', vk, ls_name, 'colour', 'roc_auc'))} / "
                  f"{mean(('concept-cross', vk, ls_name, 'shape', 'roc_auc'))} |")
    print(f"| control: blurred foreground | - | {fmt(('control', 'blurred foreground', 'colour', 'roc_auc'))} | "
          f"{fmt(('control', 'blurred foreground', 'shape', 'roc_auc'))} | "
          f"{mean(('control', 'blurred foreground', 'colour', 'ap'))} / "
          f"{mean(('control', 'blurred foreground', 'shape', 'ap'))} | "
          f"{mean(('control', 'blurred foreground', 'colour', 'miou'))} / "
          f"{mean(('control', 'blurred foreground', 'shape', 'miou'))} | - |")
    print("\n## The background concept's own map against the background (ROC-AUC, colour-class / shape-class runs)\n")
    print("| vocabulary | layers | colour runs | shape runs |")
    print("|---|---|---|---|")
    for vk in [r for r in RECIPES if r != "class"]:
        for ls_name in layer_sets:
            k = ("background", vk, ls_name)
            print(f"| {vk} | {ls_name} | {fmt(k + ('colour', 'roc_auc'))} | {fmt(k + ('shape', 'roc_auc'))} |")
    print("\n## Image-to-text maps per block (ROC-AUC)\n")
    print("| block | raw colour | raw shape | renormalised over text: colour | renormalised: shape | "
          "text share vs foreground | text share on objects / background |")
    print("|---|---|---|---|---|---|---|")
    for li in list(range(nl)) + ["all six"]:
        row = f"| {li} | {fmt(('token raw', li, 'colour', 'roc_auc'))} | {fmt(('token raw', li, 'shape', 'roc_auc'))} | "
        if li == "all six":
            print(row + "- | - | - | - |")
            continue
        print(row + f"{fmt(('token renormalised', li, 'colour', 'roc_auc'))} | "
              f"{fmt(('token renormalised', li, 'shape', 'roc_auc'))} | {fmt(('text share', li, 'roc_auc'))} | "
              f"{mean(('text share fg mean', li))} / {mean(('text share bg mean', li))} |")
    print("\n## Where each block's text attention goes: mean probability on objects / on background\n")
    print("| block | start token | the prompt's words | end + padding tokens |")
    print("|---|---|---|---|")
    for li in range(nl):
        print(f"| {li} | " + " | ".join(f"{mean(('text split', li, part, 'fg'))} / {mean(('text split', li, part, 'bg'))}"
                                       for part in ("start", "words", "end+padding")) + " |")
    print("\n## Raw image-to-text maps per head (ROC-AUC, colour / shape)\n")
    heads = max(k[2] for k in scores if k[0] == "token raw head") + 1
    print("| block | " + " | ".join(f"head {h}" for h in range(heads)) + " |")
    print("|---|" + "---|" * heads)
    for li in range(nl):
        print(f"| {li} | " + " | ".join(f"{mean(('token raw head', li, h, 'colour', 'roc_auc'))} / "
                                       f"{mean(('token raw head', li, h, 'shape', 'roc_auc'))}" for h in range(heads))
              + " |")
    if a.json:
        json.dump({"|".join(map(str, k)): v for k, v in scores.items()}, open(a.json, "w"), indent=1)


def check(run, cm, x, layers):
    """This script's per-step concept maps (the mean over `layers`) and final latent against a diffscope run folder
    of the same prompt, seed, vocabulary and layers."""
    f = os.path.join(run, "attention", "concept_maps.npy")
    if not os.path.exists(f):
        raise SystemExit(f"--check-run {run}: no attention/concept_maps.npy")
    ref = np.load(f)
    lat = os.path.join(run, "latents.npy")
    lat = np.load(lat) if os.path.exists(lat) else None
    ours = cm[:, layers].mean(1)  # [steps, N, C]
    n = int(round(ours.shape[1] ** 0.5))
    side = ref.shape[-1]
    t = torch.from_numpy(ours).permute(0, 2, 1).reshape(ours.shape[0], -1, n, n)
    ours_up = F.interpolate(t, size=(side, side), mode="bilinear", align_corners=False).numpy()
    if ref.shape != ours_up.shape:
        raise SystemExit(f"check failed: {f} is {list(ref.shape)}, this script's maps {list(ours_up.shape)} "
                         "(another vocabulary or step count)")
    d = np.abs(ours_up - ref).max()
    print(f"check: max |ours - diffscope| over the concept maps = {d:.3g}", file=sys.stderr)
    if lat is not None:
        print(f"check: final latent max diff = {np.abs(lat[-1] - x.numpy().reshape(lat[-1].shape)).max():.3g}",
              file=sys.stderr)
    if d > 1e-4:
        raise SystemExit("check failed: this script's ConceptAttention maps differ from diffscope's")


if __name__ == "__main__":
    main()
