"""A latent-to-RGB preview fitted per package: RGB at latent resolution ~ W z + b, z the model-space latent
(what the denoiser sees, i.e. after scaling_factor). diffscope uses it to show every step's clean-image estimate
for the cost of a 3 x C matrix product instead of a VAE decode (`generate --x0-view preview`).

The fit: synthetic images (smooth colour gradients with coloured ellipses and rectangles, seeded) are encoded with
the package's VAE encoder (the mean), decoded again, the decoded images averaged over each latent pixel's
f x f block, and W, b solved by least squares over every latent pixel. The RMSE of the preview against the
area-averaged decode, on fitting images and on as many held-out images, is stored beside W and b (in [-1, 1] units).
"""
import numpy as np
import torch


def synthetic_images(n, size, seed):
    """n images [n, 3, size, size] in [-1, 1]: a random linear gradient plus 2-5 filled ellipses and rectangles."""
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    out = np.zeros((n, 3, size, size), np.float32)
    for i in range(n):
        a, b = rng.uniform(-1, 1, 3), rng.uniform(-1, 1, 3)
        ang = rng.uniform(0, 2 * np.pi)
        ramp = np.cos(ang) * xx + np.sin(ang) * yy
        img = a[:, None, None] + (b - a)[:, None, None] * ramp[None]
        for _ in range(rng.randint(2, 6)):
            colour = rng.uniform(-1, 1, 3).astype(np.float32)
            cx, cy = rng.uniform(0.1, 0.9, 2)
            rx, ry = rng.uniform(0.05, 0.35, 2)
            if rng.rand() < 0.5:
                mask = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1
            else:
                mask = (np.abs(xx - cx) <= rx) & (np.abs(yy - cy) <= ry)
            img[:, mask] = colour[:, None]
        out[i] = np.clip(img + rng.normal(0, 0.02, img.shape), -1, 1)
    return torch.from_numpy(out)


def _pairs(encoder, decoder, scaling_factor, size, factor, images, batch=8):
    zs, rgbs = [], []
    with torch.no_grad():
        for k in range(0, images.shape[0], batch):
            x = images[k:k + batch]
            enc = encoder(x)
            enc = enc[0] if isinstance(enc, (tuple, list)) else enc
            z = enc.float() * scaling_factor
            dec = decoder(z / scaling_factor)
            dec = (dec[0] if isinstance(dec, (tuple, list)) else dec).float().clamp(-1, 1)
            rgb = torch.nn.functional.avg_pool2d(dec, factor)
            zs.append(z.permute(0, 2, 3, 1).reshape(-1, z.shape[1]).numpy().astype(np.float64))
            rgbs.append(rgb.permute(0, 2, 3, 1).reshape(-1, 3).numpy().astype(np.float64))
    return np.concatenate(zs), np.concatenate(rgbs)


def fit_latent_preview(encoder, decoder, *, scaling_factor, sample_size, vae_scale_factor, n=48, seed=0):
    """The preview as a dict for vae/latent_rgb.json: weights [3][C], bias [3], rmse on fitting and held-out
    images, and how it was fitted."""
    z, rgb = _pairs(encoder, decoder, scaling_factor, sample_size, vae_scale_factor,
                    synthetic_images(n, sample_size, seed))
    A = np.concatenate([z, np.ones((z.shape[0], 1))], axis=1)
    sol, *_ = np.linalg.lstsq(A, rgb, rcond=None)  # [C+1, 3]
    W, b = sol[:-1].T, sol[-1]
    rmse = float(np.sqrt(np.mean((A @ sol - rgb) ** 2)))
    zh, rgbh = _pairs(encoder, decoder, scaling_factor, sample_size, vae_scale_factor,
                      synthetic_images(n, sample_size, seed + 1))
    rmse_h = float(np.sqrt(np.mean((zh @ W.T + b - rgbh) ** 2)))
    return {"weights": W.tolist(), "bias": b.tolist(), "rmse_fit": rmse, "rmse_heldout": rmse_h,
            "fitted_on": f"{n} synthetic {sample_size} px images (seed {seed}), encoded and decoded by this package's "
                         f"VAE; held out: {n} more (seed {seed + 1}); RGB in [-1, 1] averaged over "
                         f"{vae_scale_factor}x{vae_scale_factor} blocks",
            "space": "model latent (after scaling_factor) -> RGB in [-1, 1]"}
