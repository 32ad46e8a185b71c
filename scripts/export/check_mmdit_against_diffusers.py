#!/usr/bin/python3
"""Checks that the shapes MMDiT (scripts/shapes/shapes_mmdit.py) is diffusers' SD3Transformer2DModel: its state dict
loads into diffusers 0.31's class with strict key matching, and both give the same output on the same inputs, with
diffusers' own JointAttnProcessor2_0 and with diffscope's explicit joint attention; the joint-attention maps that
diffscope's export records equal an explicit computation on diffusers' modules.

    PYTHONPATH=/path/to/diffusers-0.31 /usr/bin/python3 scripts/export/check_mmdit_against_diffusers.py [--weights CKPT]

torch 1.13 has no F.scaled_dot_product_attention, which diffusers' JointTransformerBlock requires when it is built;
the check lends it a plain implementation (softmax(QK^T/sqrt(d))V) for the duration. Needs diffusers (see the README,
"Exporting diffusers models"); without it, says so in one sentence.
"""
import argparse
import math
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "shapes"))
from diffscope_export.joint_attention import JointAttnProcessor, JointCaptureProcessor  # noqa: E402
from diffscope_export.sd3 import lend_sdpa  # noqa: E402
from shapes_mmdit import SD3Transformer  # noqa: E402


def explicit_joint_softmax(attn, hidden, context):
    """softmax(QK^T/sqrt(d)) over [image tokens, text tokens], written out here: [B, heads, N+L, N+L]."""
    b, d = hidden.shape[0], attn.to_q.out_features // attn.heads
    q = torch.cat([attn.to_q(hidden), attn.add_q_proj(context)], 1).view(b, -1, attn.heads, d).transpose(1, 2)
    k = torch.cat([attn.to_k(hidden), attn.add_k_proj(context)], 1).view(b, -1, attn.heads, d).transpose(1, 2)
    return (q @ k.transpose(-1, -2) / math.sqrt(d)).softmax(-1)


class _Both:
    def __init__(self, capture, expected):
        self.capture, self.expected = capture, expected

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, *args, **kwargs):
        self.expected.append(explicit_joint_softmax(attn, hidden_states, encoder_hidden_states))
        return self.capture(attn, hidden_states, encoder_hidden_states)


class _Store:
    def __init__(self):
        self.maps, self.recording = [], True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", help="a train_shapes_mmdit.py checkpoint (mmdit.pt; its EMA weights); default: random")
    ap.add_argument("--tolerance", type=float, default=1e-5)
    a = ap.parse_args()
    try:
        import diffusers
        from diffusers import SD3Transformer2DModel
    except ImportError as e:
        sys.exit(f"this check needs diffusers 0.31 importable ({e}); see the README on exporting diffusers models")
    torch.manual_seed(0)
    ours = SD3Transformer().eval()
    if a.weights:
        ours.load_state_dict(torch.load(a.weights)["ema"])
    else:  # random weights, with the zero-initialised-looking parts made non-trivial
        with torch.no_grad():
            for p in ours.parameters():
                p.add_(torch.randn_like(p) * 0.02)
    with lend_sdpa():
        theirs = SD3Transformer2DModel(**ours.config).eval()
        theirs.load_state_dict(ours.state_dict(), strict=True)
        b, lat, length = 2, ours.config["sample_size"], 32
        x = torch.randn(b, 4, lat, lat)
        ctx = torch.randn(b, length, ours.config["joint_attention_dim"])
        pooled = torch.randn(b, ours.config["pooled_projection_dim"])
        t = torch.tensor([980.0, 37.5])
        with torch.no_grad():
            want = theirs(hidden_states=x, encoder_hidden_states=ctx, pooled_projections=pooled, timestep=t,
                          return_dict=False)[0]
            got = ours(x, ctx, pooled, t)
            d_default = (want - got).abs().max().item()
            theirs.set_attn_processor(JointAttnProcessor())
            d_explicit = (theirs(hidden_states=x, encoder_hidden_states=ctx, pooled_projections=pooled, timestep=t,
                                 return_dict=False)[0] - got).abs().max().item()
            # the maps the export records vs the joint softmax computed here on diffusers' modules, independently
            store, expected = _Store(), []
            for i, blk in enumerate(theirs.transformer_blocks):
                blk.attn.set_processor(_Both(JointCaptureProcessor(f"transformer_blocks.{i}.attn", store), expected))
            d_capture_out = (theirs(hidden_states=x, encoder_hidden_states=ctx, pooled_projections=pooled, timestep=t,
                                    return_dict=False)[0] - got).abs().max().item()
    d_maps = 0.0
    n = (lat // ours.config["patch_size"]) ** 2
    if len(expected) != len(store.maps):
        sys.exit(f"recorded {len(store.maps)} maps but {len(expected)} joint-attention calls ran")
    for (name, m), probs in zip(store.maps, expected):
        d_maps = max(d_maps, (m - probs[:, :, :n, n:]).abs().max().item())
    print(f"diffusers {diffusers.__version__}: state dict loads strictly ({len(ours.state_dict())} tensors)")
    print(f"output vs diffusers' JointAttnProcessor2_0: max diff {d_default:.3g}")
    print(f"output vs diffusers' modules with the explicit processor: max diff {d_explicit:.3g}")
    print(f"output with the capturing processor: max diff {d_capture_out:.3g}; "
          f"{len(store.maps)} maps {tuple(store.maps[0][1].shape)}, max diff vs explicit {d_maps:.3g}")
    worst = max(d_default, d_explicit, d_capture_out, d_maps)
    if not worst <= a.tolerance:
        sys.exit(f"FAIL: max diff {worst:.3g} > {a.tolerance:g}")
    print("OK")


if __name__ == "__main__":
    main()
