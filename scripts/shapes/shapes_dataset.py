#!/usr/bin/python3
"""Procedural dataset of coloured shapes with exact per-word masks (the shapes-v1 training data).

Scenes: 64x64 RGB, one or two objects (circle, square, triangle) in six palette colours, two sizes, on a plain
light background with slight variation; objects never overlap. Captions come from templates, and every word of
every caption maps to the pixels it names: colour, shape, size and position words -> their object's mask (the
union when a word names several objects); function words ("a", "and", "on", "the", "at") -> no mask.

On-disk format (`scripts/shapes/shapes_dataset.py --out DIR --count N --split train|heldout|all --seed S`):

    DIR/index.json   {"format": "diffscope-shapes", "version": 1, "image_size": 64, "split": ..., "seed": ...,
                      "palette": {colour: [r, g, b]}, "shapes": [...], "heldout_combos": [[colour, shape], ...],
                      "items": [{"id": "000000", "image": "images/000000.png", "caption": "...",
                                 "masks": "masks/000000",           # folder usable as `diffscope --masks`
                                 "words": {"red": "masks/000000/red.png", "a": null, ...},
                                 "objects": [{"shape", "colour", "size", "position", "bbox": [x0, y0, x1, y1],
                                              "mask": "masks/000000/object0.png"}],
                                 "labels": {"count": 1|2, "shapes": [...], "colours": [...], "sizes": [...],
                                            "positions": [...]}}]}
    DIR/images/<id>.png       the RGB image
    DIR/masks/<id>/<word>.png one mask per word that names pixels (255 inside, 0 outside)
    DIR/masks/<id>/objectK.png one mask per object

The held-out split uses only colour-shape combinations that the training split never contains.
"""
import argparse
import json
import os
import random

import cv2
import numpy as np

IMAGE_SIZE = 64
PALETTE = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (235, 205, 30),
    "purple": (140, 60, 180),
    "orange": (245, 135, 25),
}
SHAPES = ["circle", "square", "triangle"]
SIZES = {"small": (8, 10), "large": (13, 16)}  # half-extent range in pixels
HELDOUT = [("red", "triangle"), ("green", "circle"), ("blue", "square"), ("yellow", "triangle")]
FUNCTION_WORDS = {"a", "and", "on", "the", "at"}
POSITIONS = ["left", "right", "top", "bottom"]
SUPERSAMPLE = 4


def _combo_allowed(colour, shape, split):
    held = (colour, shape) in HELDOUT
    return {"train": not held, "heldout": held, "all": True}[split]


def _draw(mask_hr, shape, cx, cy, r):
    s = SUPERSAMPLE
    cx, cy, r = cx * s, cy * s, r * s
    if shape == "circle":
        cv2.circle(mask_hr, (int(round(cx)), int(round(cy))), int(round(r)), 255, -1, cv2.LINE_8)
    elif shape == "square":
        q = r * 0.88
        cv2.rectangle(mask_hr, (int(round(cx - q)), int(round(cy - q))), (int(round(cx + q)), int(round(cy + q))), 255, -1)
    else:
        h = r * 1.05
        pts = np.array([[cx, cy - h], [cx - h * 0.95, cy + h * 0.8], [cx + h * 0.95, cy + h * 0.8]], np.int32)
        cv2.fillPoly(mask_hr, [pts], 255)


def _place(rng, r, taken, position):
    lo, hi = r + 2, IMAGE_SIZE - r - 2
    for _ in range(200):
        cx, cy = rng.uniform(lo, hi), rng.uniform(lo, hi)
        if position == "left":
            cx = rng.uniform(lo, min(hi, IMAGE_SIZE * 0.38))
        elif position == "right":
            cx = rng.uniform(max(lo, IMAGE_SIZE * 0.62), hi)
        elif position == "top":
            cy = rng.uniform(lo, min(hi, IMAGE_SIZE * 0.38))
        elif position == "bottom":
            cy = rng.uniform(max(lo, IMAGE_SIZE * 0.62), hi)
        if all(abs(cx - x) > r + rr + 3 or abs(cy - y) > r + rr + 3 for x, y, rr in taken):
            return cx, cy
    return None


def _position_word(cx, cy):
    """The position label of an object centre (used in labels; captions only use it when asked)."""
    horiz = "left" if cx < IMAGE_SIZE * 0.4 else "right" if cx > IMAGE_SIZE * 0.6 else "centre"
    vert = "top" if cy < IMAGE_SIZE * 0.4 else "bottom" if cy > IMAGE_SIZE * 0.6 else "middle"
    return f"{vert}-{horiz}"


def sample_scene(rng, split="train"):
    """One scene: returns (image uint8 HxWx3 RGB, caption, objects, word_masks {word: HxW bool})."""
    count = 1 if rng.random() < 0.5 else 2
    template = rng.random()
    objs = []
    taken = []
    # single-object captions sometimes carry a position word
    position = rng.choice(POSITIONS) if count == 1 and template < 0.35 else None
    with_size = template > 0.6 if count == 1 else rng.random() < 0.5
    attempts = 0
    while len(objs) < count:
        attempts += 1
        if attempts > 50:  # the objects placed so far leave no room: start the layout again
            objs, taken, attempts = [], [], 0
        colour, shape = rng.choice(list(PALETTE)), rng.choice(SHAPES)
        if not _combo_allowed(colour, shape, split):
            continue
        if any(o["colour"] == colour and o["shape"] == shape for o in objs):
            continue
        size = rng.choice(list(SIZES))
        r = rng.uniform(*SIZES[size])
        pos = _place(rng, r, taken, position)
        if pos is None:
            continue
        taken.append((pos[0], pos[1], r))
        objs.append({"shape": shape, "colour": colour, "size": size, "cx": pos[0], "cy": pos[1], "r": r})

    base = np.array([rng.uniform(228, 250)] * 3) + np.array([rng.uniform(-5, 5) for _ in range(3)])
    s = SUPERSAMPLE
    img_hr = np.empty((IMAGE_SIZE * s, IMAGE_SIZE * s, 3), np.float32)
    img_hr[:] = base
    masks = []
    for o in objs:
        m_hr = np.zeros((IMAGE_SIZE * s, IMAGE_SIZE * s), np.uint8)
        _draw(m_hr, o["shape"], o["cx"], o["cy"], o["r"])
        img_hr[m_hr > 0] = PALETTE[o["colour"]]
        m = cv2.resize(m_hr, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA) >= 128
        masks.append(m)
        ys, xs = np.nonzero(m)
        o["bbox"] = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
        o["position"] = position or _position_word(o["cx"], o["cy"])
    img = cv2.resize(img_hr, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
    img = np.clip(np.round(img), 0, 255).astype(np.uint8)

    words_for = []  # per object: the words that name it
    parts = []
    for o in objs:
        w = ([o["size"]] if with_size else []) + [o["colour"], o["shape"]]
        words_for.append(w)
        parts.append("a " + " ".join(w))
    caption = " and ".join(parts)
    if position:
        caption += (" on the " if position in ("left", "right") else " at the ") + position
        words_for[0].append(position)
    word_masks = {}
    for word in caption.split():
        if word in FUNCTION_WORDS:
            word_masks[word] = None
            continue
        m = np.zeros((IMAGE_SIZE, IMAGE_SIZE), bool)
        for ow, om in zip(words_for, masks):
            if word in ow:
                m |= om
        word_masks[word] = m
    for o, m in zip(objs, masks):
        o["mask_array"] = m
    return img, caption, objs, word_masks


def captions_for_eval():
    """The fixed prompt set used to measure the shipped model (single and two objects, train and held-out)."""
    single, double = [], []
    for c in PALETTE:
        for s in SHAPES:
            single.append((f"a {c} {s}", (c, s) in HELDOUT))
    rng = random.Random(1234)
    pairs = []
    while len(pairs) < 24:
        (c1, s1), (c2, s2) = [(rng.choice(list(PALETTE)), rng.choice(SHAPES)) for _ in range(2)]
        if (c1, s1) == (c2, s2) or c1 == c2 and s1 == s2:
            continue
        p = (f"a {c1} {s1} and a {c2} {s2}", (c1, s1) in HELDOUT or (c2, s2) in HELDOUT)
        if p not in pairs:
            pairs.append(p)
    double = pairs
    return single, double


def write_dataset(out, count, split, seed):
    rng = random.Random(seed)
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    items = []
    for i in range(count):
        img, caption, objs, word_masks = sample_scene(rng, split)
        iid = f"{i:06d}"
        mdir = os.path.join("masks", iid)
        os.makedirs(os.path.join(out, mdir), exist_ok=True)
        cv2.imwrite(os.path.join(out, "images", iid + ".png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        words = {}
        for w, m in word_masks.items():
            if m is None:
                words[w] = None
                continue
            rel = os.path.join(mdir, w + ".png")
            cv2.imwrite(os.path.join(out, rel), (m * 255).astype(np.uint8))
            words[w] = rel
        objects = []
        for k, o in enumerate(objs):
            rel = os.path.join(mdir, f"object{k}.png")
            cv2.imwrite(os.path.join(out, rel), (o["mask_array"] * 255).astype(np.uint8))
            objects.append({key: o[key] for key in ("shape", "colour", "size", "position", "bbox")} | {"mask": rel})
        items.append({
            "id": iid, "image": f"images/{iid}.png", "caption": caption, "masks": mdir, "words": words,
            "objects": objects,
            "labels": {"count": len(objs), "shapes": [o["shape"] for o in objs],
                       "colours": [o["colour"] for o in objs], "sizes": [o["size"] for o in objs],
                       "positions": [o["position"] for o in objs]},
        })
    index = {"format": "diffscope-shapes", "version": 1, "image_size": IMAGE_SIZE, "split": split, "seed": seed,
             "palette": {k: list(v) for k, v in PALETTE.items()}, "shapes": SHAPES,
             "sizes": list(SIZES), "heldout_combos": [list(c) for c in HELDOUT], "items": items}
    with open(os.path.join(out, "index.json.tmp"), "w") as f:
        json.dump(index, f, indent=1)
    os.replace(os.path.join(out, "index.json.tmp"), os.path.join(out, "index.json"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--split", choices=["train", "heldout", "all"], default="heldout")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    write_dataset(a.out, a.count, a.split, a.seed)
    print(f"wrote {a.count} {a.split} scenes to {a.out}")


if __name__ == "__main__":
    main()
