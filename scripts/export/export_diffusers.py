#!/usr/bin/python3
"""Export a Stable Diffusion checkpoint in diffusers' folder layout into a diffscope model package (SD 1.x/2.x UNets;
SD3's joint-attention transformer when the folder has transformer/, see diffscope_export/sd3.py; Flux's
FluxTransformer2DModel when model_index.json names FluxPipeline, see diffscope_export/flux.py; SDXL's two text
encoders and text_time UNet when it names StableDiffusionXLPipeline, see diffscope_export/sdxl.py: a format_version 3
package that diffscope does not load yet).

    /usr/bin/python3 scripts/export/export_diffusers.py --model ./stable-diffusion-v1-5 --out models/sd15 \\
        [--height 512 --width 512] [--dtype float32|float16] [--name sd15]

Every cross-attention module (attn2) gets diffscope_export's capture processor, which computes the softmax
probabilities explicitly (with matmul: torch 1.13's baddbmm on an empty buffer can give NaN on CPU) and hands them
out without changing the module's output. The UNet is wrapped to return (noise_pred, attention probabilities
[B, heads, HW, 77] in execution order, down/mid/up block outputs), traced, and checked against the eager model at
batch 1 and 2 and a second resolution; so are the text encoder (last hidden state, what SD 1.x and 2.x pipelines
feed the UNet), the VAE encoder (latent mean) and decoder. A package whose traced modules differ from the eager
ones by more than 1e-4 is not written. Works for SD 1.x (768-d context, 8 heads) and SD 2.x (1024-d context,
head dim 64, v-prediction for the 768-pixel models): layer counts and heads come from the model.

float16 needs a CUDA GPU (torch 1.13 has no CPU half convolutions); the package is then for --device cuda.
The LibTorch that loads a package must be the same version as the exporting torch or newer.
"""
import argparse
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def die(msg, code=2):
    print(f"export_diffusers.py: error: {msg}", file=sys.stderr)
    sys.exit(code)


def main():
    ap = argparse.ArgumentParser(description="Export a diffusers Stable Diffusion folder into a diffscope package.")
    ap.add_argument("--model", required=True, help="diffusers pipeline folder (unet/, vae/, text_encoder/, tokenizer/, scheduler/)")
    ap.add_argument("--out", required=True, help="package folder to write")
    ap.add_argument("--height", type=int, help="pixels (default: unet sample_size x VAE factor)")
    ap.add_argument("--width", type=int)
    ap.add_argument("--dtype", choices=["float32", "float16"], default="float32")
    ap.add_argument("--name", help="package name (default: the folder's name)")
    ap.add_argument("--t5-max-length", type=int,
                    help="SD3 with T5, Flux: T5 tokens per prompt (the pipeline's max_sequence_length; default 256 "
                         "for SD3, 512 for Flux)")
    ap.add_argument("--without-t5", action="store_true",
                    help="SD3: export without the T5 text encoder, as diffusers runs the pipeline without "
                         "text_encoder_3 (77 rows of zeros in its place)")
    a = ap.parse_args()

    try:
        import torch
        from diffusers import AutoencoderKL, UNet2DConditionModel
        from transformers import CLIPTextModel
    except ImportError as e:
        die(f"needs diffusers and transformers ({e.name} is missing): install diffusers==0.31.0 (the newest that "
            "imports on torch 1.13) and transformers, e.g. pip install diffusers==0.31.0 transformers")

    from diffscope_export import AnalyzableUNet, trace_checked, write_package
    from diffscope_export.package import ExportError, layer_table

    src = a.model
    index_path = os.path.join(src, "model_index.json")
    pipeline_class = json.load(open(index_path)).get("_class_name", "") if os.path.exists(index_path) else ""
    if pipeline_class == "FluxPipeline":  # FluxTransformer2DModel: the transformer family, T5 rows, RoPE, packing
        from diffscope_export.flux import export_flux
        if a.dtype != "float32":
            die("--dtype float16: Flux packages are exported in float32 for now")
        if a.without_t5:
            die("--without-t5: Flux's text rows are T5's; it cannot run without T5")
        try:
            layers, h, w = export_flux(src, a.out, name=a.name or os.path.basename(os.path.normpath(src)),
                                       height=a.height, width=a.width, t5_max_length=a.t5_max_length)
        except ExportError as e:
            die(str(e), 1)
        print(f"wrote {a.out}: {len(layers['joint_attention'])} attention layers, {h}x{w} px, torch {torch.__version__}")
        return
    if pipeline_class == "StableDiffusionXLPipeline":  # two CLIP encoders, a text_time UNet (format_version 3)
        from diffscope_export.sdxl import export_sdxl
        if a.dtype != "float32":
            die("--dtype float16: SDXL packages are exported in float32 for now")
        if a.without_t5 or a.t5_max_length:
            die("--without-t5/--t5-max-length: SDXL has no T5 encoder")
        try:
            layers, h, w = export_sdxl(src, a.out, name=a.name or os.path.basename(os.path.normpath(src)),
                                       height=a.height, width=a.width)
        except ExportError as e:
            die(str(e), 1)
        print(f"wrote {a.out}: {len(layers['cross_attention'])} cross-attention layers, {h}x{w} px, SDXL "
              f"(format_version 3), torch {torch.__version__}")
        return
    if os.path.isdir(os.path.join(src, "transformer")):  # StableDiffusion3Pipeline: the transformer family
        from diffscope_export.sd3 import export_sd3
        if a.dtype != "float32":
            die("--dtype float16: SD3 packages are exported in float32 for now")
        try:
            layers, h, w = export_sd3(src, a.out, name=a.name or os.path.basename(os.path.normpath(src)),
                                      height=a.height, width=a.width, without_t5=a.without_t5,
                                      t5_max_length=a.t5_max_length or 256)
        except ExportError as e:
            die(str(e), 1)
        print(f"wrote {a.out}: {len(layers['joint_attention'])} joint-attention layers, {h}x{w} px, "
              f"torch {torch.__version__}")
        return
    for sub in ("unet", "vae", "text_encoder", "tokenizer/vocab.json", "tokenizer/merges.txt",
                "scheduler/scheduler_config.json"):
        if not os.path.exists(os.path.join(src, sub)):
            die(f"{os.path.join(src, sub)}: missing (expected a diffusers Stable Diffusion folder)")
    device = "cpu"
    dtype = torch.float32
    if a.dtype == "float16":
        if not torch.cuda.is_available():
            die("--dtype float16 needs a CUDA GPU (torch 1.13 has no half-precision convolutions on CPU)")
        device, dtype = "cuda", torch.float16

    unet = UNet2DConditionModel.from_pretrained(src, subfolder="unet").to(device, dtype).eval()
    vae = AutoencoderKL.from_pretrained(src, subfolder="vae").to(device, dtype).eval()
    text = CLIPTextModel.from_pretrained(src, subfolder="text_encoder").to(device, dtype).eval()
    sched_cfg = json.load(open(os.path.join(src, "scheduler", "scheduler_config.json")))

    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    height = a.height or unet.config.sample_size * factor
    width = a.width or unet.config.sample_size * factor
    if height % factor or width % factor:
        die(f"--height/--width must be multiples of {factor}")
    lh, lw = height // factor, width // factor
    lc = unet.config.in_channels
    ctx_dim = text.config.hidden_size
    max_length = text.config.max_position_embeddings

    class TextWrapper(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, ids):
            return self.m(ids, return_dict=False)[0]  # last_hidden_state

    class VaeEncoder(torch.nn.Module):
        def __init__(self, v):
            super().__init__()
            self.v = v

        def forward(self, image):
            moments = self.v.quant_conv(self.v.encoder(image)) if self.v.quant_conv is not None else self.v.encoder(image)
            return moments.chunk(2, dim=1)[0]

    class VaeDecoder(torch.nn.Module):
        def __init__(self, v):
            super().__init__()
            self.v = v

        def forward(self, z):
            if self.v.post_quant_conv is not None:
                z = self.v.post_quant_conv(z)
            return self.v.decoder(z)

    g = torch.Generator().manual_seed(0)
    rnd = lambda *s: torch.randn(*s, generator=g).to(device, dtype)  # noqa: E731
    ids = lambda b: torch.randint(0, text.config.vocab_size, (b, max_length), generator=g).to(device)  # noqa: E731
    t = lambda b: (torch.rand(b, generator=g) * 999).to(device)  # noqa: E731
    try:
        te = trace_checked("text_encoder", TextWrapper(text), (ids(1),), [(ids(2),)])
        wrapper = AnalyzableUNet(unet).eval()
        example = (rnd(1, lc, lh, lw), t(1), rnd(1, max_length, ctx_dim))
        layers = layer_table(wrapper, *example)
        o_h, o_w = lh + factor, lw + factor  # a second resolution (the VAE factor keeps it valid for the UNet)
        un = trace_checked("unet", wrapper, example,
                           [(rnd(2, lc, lh, lw), t(2), rnd(2, max_length, ctx_dim)),
                            (rnd(1, lc, o_h, o_w), t(1), rnd(1, max_length, ctx_dim))])
        enc = trace_checked("vae/encoder", VaeEncoder(vae), (rnd(1, 3, height, width).clamp(-1, 1),), [])
        dec = trace_checked("vae/decoder", VaeDecoder(vae), (rnd(1, lc, lh, lw),), [(rnd(2, lc, lh, lw),)])
    except ExportError as e:
        die(str(e), 1)

    pad_token = "<|endoftext|>"
    for f in ("special_tokens_map.json", "tokenizer_config.json"):
        p = os.path.join(src, "tokenizer", f)
        if os.path.exists(p):
            j = json.load(open(p))
            pt = j.get("pad_token")
            if isinstance(pt, dict):
                pt = pt.get("content")
            if isinstance(pt, str):
                pad_token = pt
                break
    write_package(a.out, name=a.name or os.path.basename(os.path.normpath(src)), text_encoder=te, unet=un,
                  vae_encoder=enc, vae_decoder=dec,
                  vocab_json=os.path.join(src, "tokenizer", "vocab.json"),
                  merges_txt=os.path.join(src, "tokenizer", "merges.txt"), scheduler_config=sched_cfg,
                  sample_size=height, vae_scale_factor=factor, latent_channels=lc,
                  prediction_type=sched_cfg.get("prediction_type", "epsilon"),
                  scaling_factor=float(vae.config.scaling_factor), layers=layers, pad_token=pad_token,
                  max_length=max_length)
    print(f"wrote {a.out}: {len(layers['cross_attention'])} cross-attention layers, context {ctx_dim}, "
          f"{height}x{width} px, {a.dtype}, torch {torch.__version__}")


if __name__ == "__main__":
    main()
