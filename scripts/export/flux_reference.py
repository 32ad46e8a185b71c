"""Tiny randomly initialised Flux pipeline + a diffusers reference run.

Builds a toy ``FluxPipeline`` from diffusers / transformers classes (a small CLIPTextModel for the pooled vector,
a 2-layer T5EncoderModel with a T5Tokenizer over tests/data/reference/sentencepiece/t5like.model, a
FluxTransformer2DModel with 2 two-stream and 2 single-stream blocks, rotary axes (4, 6, 6) and a guidance
embedding as FLUX.1-dev has, a 2-level 4-channel VAE with a shift factor, FlowMatchEuler with Flux's
resolution-dependent shift), saves it with ``save_pretrained`` (safetensors), reloads it with
``FluxPipeline.from_pretrained`` and records a sampling run with diffusers' own attention processors
(FluxAttnProcessor2_0, given torch 1.13 a plain scaled_dot_product_attention), so that diffscope can be checked
against it step by step. ``schnell=True`` builds the same without a guidance embedding and with a static shift
of 1 (FLUX.1-schnell's configuration).

    PYTHONPATH=/work/pyenv /usr/bin/python3 scripts/export/flux_reference.py /tmp/flux-tiny /tmp/flux-ref.npz
"""
import os
import sys
import tempfile
import warnings

warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from diffscope_export.sd3 import lend_sdpa  # noqa: E402
from sd3_reference import MAX_LEN, T5_SPIECE, write_tokenizer_files  # noqa: E402

PROMPT = "a red circle and a blue square"
T5_MAX_LEN = 16
SIZE = 32  # pixels; the VAE factor is 2, so the latent is 16 x 16 and the transformer sees 8 x 8 packed tokens


def build_tiny_flux(out_dir, seed=0, schnell=False):
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer, T5Config, T5EncoderModel, T5Tokenizer

    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as td:
        vf, mf, vocab = write_tokenizer_files(td)
        tokenizer = CLIPTokenizer(vf, mf, model_max_length=MAX_LEN, pad_token="<|endoftext|>")
    bos, eos = vocab["<|startoftext|>"], vocab["<|endoftext|>"]
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=1000, hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=2,
        max_position_embeddings=MAX_LEN, hidden_act="quick_gelu", layer_norm_eps=1e-5, bos_token_id=bos,
        eos_token_id=eos, pad_token_id=eos)).eval()
    tokenizer_2 = T5Tokenizer(vocab_file=T5_SPIECE, extra_ids=0, legacy=True, model_max_length=T5_MAX_LEN)
    text_encoder_2 = T5EncoderModel(T5Config(
        vocab_size=800, d_model=48, d_kv=12, d_ff=96, num_layers=2, num_heads=4, relative_attention_num_buckets=8,
        relative_attention_max_distance=16, dropout_rate=0.0, feed_forward_proj="gated-gelu", pad_token_id=0,
        eos_token_id=1)).eval()
    with lend_sdpa():
        transformer = FluxTransformer2DModel(
            patch_size=1, in_channels=16, num_layers=2, num_single_layers=2, attention_head_dim=16,
            num_attention_heads=2, joint_attention_dim=48, pooled_projection_dim=32, guidance_embeds=not schnell,
            axes_dims_rope=(4, 6, 6)).eval()
        vae = AutoencoderKL(
            in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
            up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(8, 16), latent_channels=4,
            norm_num_groups=4, sample_size=SIZE, scaling_factor=0.3611, shift_factor=0.1159,
            use_quant_conv=False, use_post_quant_conv=False).eval()
    with torch.no_grad():  # diffusers zero-initialises some layers; perturb everything
        for p in transformer.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    if schnell:
        scheduler = FlowMatchEulerDiscreteScheduler(shift=1.0, use_dynamic_shifting=False)
    else:
        scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True, base_shift=0.5,
                                                    max_shift=1.15, base_image_seq_len=256, max_image_seq_len=4096)
    pipe = FluxPipeline(scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                        text_encoder_2=text_encoder_2, tokenizer_2=tokenizer_2, transformer=transformer)
    pipe.save_pretrained(out_dir, safe_serialization=True)
    return pipe


def run_reference(pipe_dir, prompt, seed, steps, guidance, out_npz):
    from diffusers import FluxPipeline
    from diffusers.utils.torch_utils import randn_tensor

    torch.set_num_threads(1)
    with lend_sdpa():  # diffusers' FluxAttnProcessor2_0 calls F.scaled_dot_product_attention: plain softmax here
        pipe = FluxPipeline.from_pretrained(pipe_dir, torch_dtype=torch.float32).to("cpu")
        pipe.set_progress_bar_config(disable=True)
        generator = torch.Generator("cpu").manual_seed(seed)
        c = pipe.transformer.config.in_channels // 4
        lh = 2 * (SIZE // pipe.vae_scale_factor)
        latents0 = randn_tensor((1, c, lh, lh), generator=generator, dtype=torch.float32)  # as prepare_latents
        packed = pipe._pack_latents(latents0, 1, c, lh, lh)
        recorded = [latents0[0].clone()]

        def on_step_end(p, i, t, kw):
            recorded.append(p._unpack_latents(kw["latents"], SIZE, SIZE, p.vae_scale_factor)[0].detach().clone())
            return kw

        with torch.no_grad():
            image = pipe(prompt, height=SIZE, width=SIZE, num_inference_steps=steps, guidance_scale=guidance,
                         generator=generator, latents=packed.clone(), output_type="np",
                         max_sequence_length=T5_MAX_LEN, callback_on_step_end=on_step_end,
                         callback_on_step_end_tensor_inputs=["latents"]).images
            pe, pooled, _ = pipe.encode_prompt(prompt=prompt, prompt_2=None, device=torch.device("cpu"),
                                               max_sequence_length=T5_MAX_LEN)
    out = dict(
        latents=torch.stack(recorded).numpy().astype(np.float32),
        timesteps=pipe.scheduler.timesteps.numpy().astype(np.float32),
        prompt_embeds=pe.numpy().astype(np.float32), pooled=pooled.numpy().astype(np.float32),
        image=np.asarray(image[0], dtype=np.float32),
        token_ids=np.asarray(pipe.tokenizer(prompt, padding="max_length", max_length=MAX_LEN,
                                            truncation=True).input_ids, dtype=np.int64),
        token_ids_3=np.asarray(pipe.tokenizer_2(prompt, padding="max_length", max_length=T5_MAX_LEN,
                                                truncation=True).input_ids, dtype=np.int64),
        seed=np.int64(seed), guidance=np.float32(guidance))
    np.savez(out_npz, **out)
    return out


if __name__ == "__main__":
    pipe_dir = sys.argv[1] if len(sys.argv) > 1 else "/tmp/flux-tiny"
    out_npz = sys.argv[2] if len(sys.argv) > 2 else "/tmp/flux-ref.npz"
    build_tiny_flux(pipe_dir, seed=0, schnell="--schnell" in sys.argv)
    ref = run_reference(pipe_dir, PROMPT, seed=3, steps=6, guidance=3.5, out_npz=out_npz)
    for k, v in ref.items():
        print(k, np.asarray(v).shape, np.asarray(v).dtype)
    print("timesteps", ref["timesteps"].tolist())
