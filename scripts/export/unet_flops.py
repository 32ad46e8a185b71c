#!/usr/bin/python3
"""Floating-point operations of one classifier-free-guidance denoiser step (the UNet on a batch of 2) of a diffusers
pipeline folder at a given image size, for bench/bench_vs_diffusers.sh's GFLOP/s column. Counted by PyTorch's
profiler (with_flops) over the matrix products and convolutions of one real call (aten::conv2d, mm, addmm, bmm,
baddbmm, matmul; elementwise operations, under 0.1% of the total at SD size, are left out), so the count follows
the model's actual shapes. Prints one JSON line {"gflop_per_step", "by_op"}.

    PYTHONPATH=<diffusers 0.31> /usr/bin/python3 scripts/export/unet_flops.py --model FOLDER --size 256
"""
import argparse
import json
import os
import sys

MATRIX_OPS = ("aten::conv2d", "aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::matmul")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="a diffusers pipeline folder with unet/")
    ap.add_argument("--size", type=int, default=256, help="image side in pixels")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()

    import torch
    from torch.profiler import ProfilerActivity, profile
    torch.set_num_threads(a.threads)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from check_diffusers_export import avoid_baddbmm_nan
    from diffusers import UNet2DConditionModel
    avoid_baddbmm_nan()
    unet = UNet2DConditionModel.from_pretrained(a.model, subfolder="unet").eval()
    side = a.size // 8  # the VAE's factor for every SD 1.x/2.x and SDXL pipeline
    sample = torch.zeros(2, unet.config.in_channels, side, side)
    context = torch.zeros(2, 77, unet.config.cross_attention_dim)
    extra = {}
    if unet.config.addition_embed_type == "text_time":  # SDXL: the pooled vector and the 6 size ids beside the context
        pooled = unet.config.projection_class_embeddings_input_dim - 6 * unet.config.addition_time_embed_dim
        extra = {"added_cond_kwargs": {"text_embeds": torch.zeros(2, pooled), "time_ids": torch.zeros(2, 6)}}
    with torch.no_grad(), profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        unet(sample, torch.tensor([500.0, 500.0]), context, **extra)
    by_op = {e.key: e.flops for e in prof.key_averages() if e.key in MATRIX_OPS and e.flops}
    if not by_op:
        sys.exit("unet_flops: the profiler counted no matrix operations (torch without with_flops support?)")
    print(json.dumps({"gflop_per_step": sum(by_op.values()) / 1e9, "by_op": by_op}))


if __name__ == "__main__":
    main()
