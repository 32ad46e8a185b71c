#!/usr/bin/python3
"""Palette segmentation and the contour shape test for shapes-v1 images (the model card's adherence measure).

concepts.json (written into the package) holds the same constants, so diffscope's C++ segmentation and this
script judge images alike: a pixel belongs to the nearest palette colour when it is within `colour_tolerance`
(RGB distance); each connected component of at least `min_area` pixels is a shape by its extent (area / bounding
box area): square >= square_min_extent, circle >= circle_min_extent, triangle below.
"""
import cv2
import numpy as np

from shapes_dataset import PALETTE, SHAPES, SIZES

CONCEPTS = {
    "format": "diffscope-concepts", "version": 1,
    "palette": {k: list(v) for k, v in PALETTE.items()},
    "shapes": SHAPES,
    "sizes": {"small": {"max_area": 420}, "large": {"min_area": 420}},
    "colour_tolerance": 70.0,
    "min_area": 12,
    "shape_test": {"measure": "extent = area / bounding-box area", "square_min_extent": 0.86, "circle_min_extent": 0.66},
    "background": "plain light grey, RGB each 223..255",
    "word_classes": {"colour": list(PALETTE), "shape": SHAPES, "size": list(SIZES),
                     "position": ["left", "right", "top", "bottom"]},
}


def classify_shape(component_mask):
    ys, xs = np.nonzero(component_mask)
    area = len(xs)
    box = (xs.max() - xs.min() + 1) * (ys.max() - ys.min() + 1)
    extent = area / box
    st = CONCEPTS["shape_test"]
    if extent >= st["square_min_extent"]:
        return "square"
    if extent >= st["circle_min_extent"]:
        return "circle"
    return "triangle"


def segment(rgb):
    """rgb uint8 HxWx3 -> list of objects {colour, shape, area, mask}."""
    names = list(PALETTE)
    pal = np.array([PALETTE[n] for n in names], np.float32)
    d = np.linalg.norm(rgb.astype(np.float32)[:, :, None, :] - pal[None, None], axis=-1)
    nearest = d.argmin(-1)
    ok = d.min(-1) < CONCEPTS["colour_tolerance"]
    objects = []
    for ci, name in enumerate(names):
        m = ((nearest == ci) & ok).astype(np.uint8)
        n, labels = cv2.connectedComponents(m, connectivity=8)
        for k in range(1, n):
            comp = labels == k
            if comp.sum() < CONCEPTS["min_area"]:
                continue
            objects.append({"colour": name, "shape": classify_shape(comp), "area": int(comp.sum()), "mask": comp})
    return objects


def adheres(rgb, wanted):
    """True when every (colour, shape) in `wanted` is present as a segmented object."""
    objs = segment(rgb)
    return all(any(o["colour"] == c and o["shape"] == s for o in objs) for c, s in wanted)
