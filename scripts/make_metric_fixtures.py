#!/usr/bin/python3
"""Reference values for diffscope's metrics module (tests/metrics/fixtures.json).

Computes every metric with the library that defines it: scikit-learn (roc_auc_score, roc_curve,
average_precision_score, precision_recall_curve), numpy (sum, mean, std, corrcoef, trapz, histogram),
scipy (rankdata, spearmanr), OpenCV (compareHist HISTCMP_CORREL) and, for SSIM, a transcription of
skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
built on scipy.ndimage.gaussian_filter exactly as skimage does (skimage itself is not installed here).

Inputs are deterministic (seeded numpy Generator), so the file is reproducible:
    /usr/bin/python3 scripts/make_metric_fixtures.py --out tests/metrics/fixtures.json
Large cases are described by an integer formula instead of listed values (see formula_case) so the
committed file stays small; the C++ test rebuilds the same inputs.
Floats are stored with repr (exact round trip); NaN is stored as null.
"""
import argparse
import json
import math
import warnings

import numpy as np
import scipy.ndimage
import scipy.stats
from sklearn.metrics import (average_precision_score, precision_recall_curve, roc_auc_score,
                             roc_curve)

try:
    import cv2
except ImportError:  # histogram_correlation cases then use the formula cv2 documents
    cv2 = None


def num(v):
    v = float(v)
    return None if math.isnan(v) else v


def nums(a):
    return [num(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def f32(a):
    """Values rounded to float32 (the C++ side works on float inputs), as a float64 array."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


# ---------------------------------------------------------------- ranking metrics

def ranking_expected(scores32, labels, curves):
    labels = np.asarray(labels, dtype=np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one_class = len(np.unique(labels)) < 2
        out = {
            "roc_auc": None if one_class else num(roc_auc_score(labels, scores32)),
            "average_precision": num(average_precision_score(labels, scores32)),
        }
        if curves:
            fpr, tpr, thr = roc_curve(labels, scores32)
            prec, rec, pthr = precision_recall_curve(labels, scores32)
            out.update({"roc_fpr": nums(fpr), "roc_tpr": nums(tpr), "roc_thresholds": nums(thr),
                        "pr_precision": nums(prec), "pr_recall": nums(rec), "pr_thresholds": nums(pthr)})
    return out


def listed_case(name, scores, labels, curves=True):
    scores32 = np.asarray(scores, dtype=np.float32)
    case = {"name": name, "scores": nums(scores32), "labels": [int(v) for v in labels]}
    case.update(ranking_expected(scores32, labels, curves))
    return case


def formula_inputs(n, a, m, den, b, c, d):
    """scores[i] = float32((i * a mod m) / den); labels[i] = 1 if (i * b mod c) < d else 0."""
    i = np.arange(n, dtype=np.int64)
    scores = ((i * a) % m).astype(np.float32) / np.float32(den)
    labels = (((i * b) % c) < d).astype(np.int64)
    return scores.astype(np.float32), labels


def formula_case(name, n, a, m, den, b, c, d):
    scores, labels = formula_inputs(n, a, m, den, b, c, d)
    case = {"name": name, "formula": {"n": n, "a": a, "m": m, "den": den, "b": b, "c": c, "d": d}}
    case.update(ranking_expected(scores, labels, curves=False))
    return case


def blob_map(rng, h, w, cy, cx, radius, noise):
    y, x = np.mgrid[0:h, 0:w]
    d2 = (y - cy) ** 2 + (x - cx) ** 2
    heat = np.exp(-d2 / (2.0 * radius ** 2)) + noise * rng.standard_normal((h, w))
    mask = (d2 <= radius ** 2).astype(np.int64)
    return heat, mask


def ranking_cases(rng):
    cases = []
    cases.append(listed_case("sklearn_doc_example", [0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]))
    for n in (7, 50, 300):
        s = rng.random(n)
        l = (rng.random(n) < 0.4).astype(int)
        cases.append(listed_case(f"random_{n}", s, l))
    s = np.round(rng.random(400), 1)  # 11 distinct values: many ties
    l = (rng.random(400) < s * 0.8 + 0.1).astype(int)
    cases.append(listed_case("ties_one_decimal", s, l))
    s = rng.integers(0, 3, 120) / 2.0  # three levels
    l = (rng.random(120) < 0.3 + 0.2 * s).astype(int)
    cases.append(listed_case("ties_three_levels", s, l))
    cases.append(listed_case("all_equal_scores", np.full(60, 0.25), (rng.random(60) < 0.3).astype(int)))
    m = (rng.random(200) < 0.5).astype(int)
    flip = rng.random(200) < 0.2
    cases.append(listed_case("binary_mask_scores", np.where(flip, 1 - m, m), m))
    cases.append(listed_case("perfect", [0.9, 0.8, 0.3, 0.2, 0.1], [1, 1, 0, 0, 0]))
    cases.append(listed_case("inverted", [0.9, 0.8, 0.3, 0.2, 0.1], [0, 0, 1, 1, 1]))
    cases.append(listed_case("all_negative", rng.random(20), [0] * 20))
    cases.append(listed_case("all_positive", rng.random(20), [1] * 20))
    heat, mask = blob_map(rng, 24, 24, 9.3, 14.7, 5.0, 0.15)
    cases.append(listed_case("heatmap_24x24", heat.ravel(), mask.ravel(), curves=False))
    q = np.floor(np.clip(heat, 0, 1) * 255) / 255  # 8-bit quantised heat map: ties everywhere
    cases.append(listed_case("heatmap_8bit", q.ravel(), mask.ravel(), curves=False))
    cases.append(formula_case("formula_20000_ties", 20000, 7919, 257, 256, 31, 7, 3))
    cases.append(formula_case("formula_70000_distinct", 70000, 104729, 65521, 65536, 17, 11, 2))
    return cases


# ---------------------------------------------------------------- IoU, correlations, distances

def iou_cases(rng):
    heat, mask = blob_map(rng, 24, 24, 10.0, 13.0, 5.0, 0.1)
    heat = f32((heat - heat.min()) / (heat.max() - heat.min()))
    expected = []
    for thr in (0.0, 0.2, 0.4, 0.6, 1.0):
        # DAAM: float32 heat map > threshold, compared in float32 as torch does
        p, t = heat.astype(np.float32).ravel() > np.float32(thr), mask.ravel() > 0.5
        union = np.logical_or(p, t).sum()
        expected.append({"threshold": thr, "iou": float(np.logical_and(p, t).sum() / union) if union else 0.0})
    return {"map": nums(heat), "mask": [int(v) for v in mask.ravel()], "expected": expected}


def pair_cases(rng):
    cases = []
    a = f32(rng.standard_normal(300))
    b = f32(0.6 * a + 0.8 * rng.standard_normal(300))
    cases.append(("correlated_300", a, b))
    x = f32(np.round(rng.random(200), 1))
    y = f32(np.round(x + 0.3 * rng.random(200), 1))
    cases.append(("tied_200", x, y))
    u = f32(rng.random((16, 16)).ravel())
    v = f32(np.clip(u + 0.05 * rng.standard_normal(256), 0, 1))
    cases.append(("images_256", u, v))
    cases.append(("constant", f32(np.full(10, 0.5)), f32(rng.random(10))))
    out = []
    for name, a, b in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pearson = np.corrcoef(a, b)[0, 1]
            spearman = scipy.stats.spearmanr(a, b).correlation
        mse = np.mean((a - b) ** 2)
        out.append({
            "name": name, "a": nums(a), "b": nums(b),
            "pearson": num(pearson), "spearman": num(spearman), "mse": num(mse),
            "psnr_range1": num(10 * np.log10(1.0 / mse)), "psnr_range2": num(10 * np.log10(4.0 / mse)),
            "cosine": num(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))),
            "rank_a": nums(scipy.stats.rankdata(a)),
            "mean_a": num(np.mean(a)), "std_a": num(np.std(a)), "std1_a": num(np.std(a, ddof=1)),
        })
    return out


def sum_formula_values(n, a, m, den):
    """values[i] = ((i * a mod m) - m // 2) / den * (1, 1e-3, 1e3, 0.5)[i mod 4], in float64."""
    i = np.arange(n, dtype=np.int64)
    scale = np.array([1.0, 1e-3, 1e3, 0.5])[i % 4]
    return (((i * a) % m) - m // 2).astype(np.float64) / float(den) * scale


def sum_cases(rng):
    out = []
    for n in (3, 8, 100, 129, 1000):
        v = rng.standard_normal(n) * 10.0 ** rng.integers(-3, 4, n)
        out.append({"values": nums(v), "sum": num(np.sum(v)), "mean": num(np.mean(v))})
    for n in (8192, 8193, 20000, 100003):  # numpy reduces in 8192-element chunks
        v = sum_formula_values(n, 7919, 10007, 7)
        out.append({"formula": {"n": n, "a": 7919, "m": 10007, "den": 7}, "sum": num(np.sum(v)),
                    "mean": num(np.mean(v))})
    return out


def trapz_cases(rng):
    out = []
    x = np.sort(rng.random(40))
    y = rng.random(40)
    out.append({"x": nums(x), "y": nums(y), "trapz": num(np.trapz(y, x)), "dx": 0.125,
                "trapz_dx": num(np.trapz(y, dx=0.125))})
    k = np.linspace(0, 1, 65)  # an insertion/deletion curve over 64 steps
    c = 1 - np.exp(-5 * k) + 0.01 * rng.standard_normal(65)
    out.append({"x": nums(k), "y": nums(c), "trapz": num(np.trapz(c, k)), "dx": 1 / 64,
                "trapz_dx": num(np.trapz(c, dx=1 / 64))})
    return out


def histogram_cases(rng):
    out = []
    v = f32(np.concatenate([rng.random(800), [0.0, 1.0, 0.5, -0.01, 1.01, 0.25, 0.75]]))
    w = f32(np.clip(v * 0.9 + 0.05 * rng.standard_normal(v.size), -0.2, 1.2))
    for bins in (8, 32, 256):
        h1, _ = np.histogram(v, bins=bins, range=(0.0, 1.0))
        h2, _ = np.histogram(w, bins=bins, range=(0.0, 1.0))
        if cv2 is not None:
            corr = cv2.compareHist(h1.astype(np.float32), h2.astype(np.float32), cv2.HISTCMP_CORREL)
        else:
            corr = np.corrcoef(h1, h2)[0, 1]
        out.append({"bins": bins, "lo": 0.0, "hi": 1.0, "h1": nums(h1), "h2": nums(h2), "correl": num(corr)})
    g = f32(np.round(rng.random(500) * 40 - 20, 2))  # values on and near bin edges of [-20, 20]
    h, _ = np.histogram(g, bins=40, range=(-20.0, 20.0))
    out.append({"bins": 40, "lo": -20.0, "hi": 20.0, "h1": nums(h), "h2": nums(h[::-1]),
                "correl": num(cv2.compareHist(h.astype(np.float32), h[::-1].astype(np.float32),
                                              cv2.HISTCMP_CORREL) if cv2 is not None else
                              np.corrcoef(h, h[::-1])[0, 1])})
    return {"values": nums(v), "values2": nums(w), "edge_values": nums(g), "cases": out}


# ---------------------------------------------------------------- SSIM

def ssim_reference(x, y, data_range, crop=True):
    """skimage.metrics.structural_similarity for one channel (gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False), plus the luminance / contrast / structure means."""
    sigma, truncate, k1, k2 = 1.5, 3.5, 0.01, 0.03
    filt = lambda im: scipy.ndimage.gaussian_filter(im, sigma=sigma, truncate=truncate, mode="reflect")
    ux, uy = filt(x), filt(y)
    uxx, uyy, uxy = filt(x * x), filt(y * y), filt(x * y)
    vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    c3 = c2 / 2
    a1, a2 = 2 * ux * uy + c1, 2 * vxy + c2
    b1, b2 = ux ** 2 + uy ** 2 + c1, vx + vy + c2
    s = (a1 * a2) / (b1 * b2)
    sx, sy = np.sqrt(np.maximum(vx, 0)), np.sqrt(np.maximum(vy, 0))
    lum, con, stru = a1 / b1, (2 * sx * sy + c2) / b2, (vxy + c3) / (sx * sy + c3)
    pad = (2 * int(truncate * sigma + 0.5) + 1 - 1) // 2
    if crop:
        sl = (slice(pad, -pad), slice(pad, -pad))
        s, lum, con, stru = s[sl], lum[sl], con[sl], stru[sl]
    return [s.mean(dtype=np.float64), lum.mean(dtype=np.float64), con.mean(dtype=np.float64),
            stru.mean(dtype=np.float64)]


def ssim_case(name, a_chw, b_chw, data_range):
    a, b = f32(a_chw), f32(b_chw)
    c, h, w = a.shape
    crop = h > 10 and w > 10
    per = np.array([ssim_reference(a[k], b[k], data_range, crop) for k in range(c)])
    mean = per.mean(axis=0)
    return {"name": name, "channels": c, "height": h, "width": w, "data_range": data_range,
            "a": nums(a), "b": nums(b), "ssim": num(mean[0]), "luminance": num(mean[1]),
            "contrast": num(mean[2]), "structure": num(mean[3])}


def ssim_cases(rng):
    out = []
    a = rng.random((3, 16, 14))
    out.append(ssim_case("noise_rgb_16x14", a, np.clip(a + 0.1 * rng.standard_normal(a.shape), 0, 1), 1.0))
    y, x = np.mgrid[0:20, 0:20]
    img = np.sin(x / 3.0) * np.cos(y / 5.0)
    out.append(ssim_case("pattern_vs_shifted_20", img[None], np.roll(img, 2, axis=1)[None] * 0.8 + 0.1, 2.0))
    lat = rng.standard_normal((4, 12, 12))
    out.append(ssim_case("latent_4x12x12", lat, 0.7 * lat + 0.5 * rng.standard_normal(lat.shape), 8.0))
    t = rng.random((2, 8, 9))
    out.append(ssim_case("tiny_uncropped_8x9", t, t[:, ::-1, :], 1.0))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="tests/metrics/fixtures.json")
    ap.add_argument("--seed", type=int, default=20240611)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    fixtures = {
        "generator": "scripts/make_metric_fixtures.py",
        "seed": args.seed,
        "ranking": ranking_cases(rng),
        "iou": iou_cases(rng),
        "pairs": pair_cases(rng),
        "sums": sum_cases(rng),
        "trapz": trapz_cases(rng),
        "histogram": histogram_cases(rng),
        "ssim": ssim_cases(rng),
    }
    with open(args.out, "w") as f:
        json.dump(fixtures, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
