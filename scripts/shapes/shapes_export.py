#!/usr/bin/python3
"""Export a shapes-architecture model (trained or random) into a diffscope package, through diffscope_export."""
import os
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "export"))  # diffscope_export
from clip_bpe import write_vocab  # noqa: E402
from diffscope_export import AnalyzableUNet, trace_checked, write_package  # noqa: E402
from diffscope_export.package import SD15_SCHEDULER_CONFIG, layer_table  # noqa: E402
from diffscope_export.transformer_wrapper import AnalyzableTransformer, PooledTextEncoder  # noqa: E402


class _EncoderMean(torch.nn.Module):
    def __init__(self, enc):
        super().__init__()
        self.enc = enc

    def forward(self, image):
        return self.enc(image)[0]


def trace_vae(vae, sample_size, latent_channels, lat):
    """The VAE's encoder (latent mean) and decoder traced and checked against eager (batch 1, 2 and a second size)."""
    img = lambda b, s=sample_size: torch.rand(b, 3, s, s) * 2 - 1  # noqa: E731
    lc = latent_channels
    enc = trace_checked("vae/encoder", _EncoderMean(vae.encoder), (img(1),), [(img(2),)])
    dec = trace_checked("vae/decoder", vae.decoder, (torch.randn(1, lc, lat, lat),),
                        [(torch.randn(2, lc, lat, lat),), (torch.randn(1, lc, lat + 4, lat + 4),)])
    return enc, dec


def write_with_vocab(out, vocab, merges, **package):
    """write_package with the shapes vocabulary written as Hugging Face tokenizer files."""
    with tempfile.TemporaryDirectory() as tok:
        write_vocab(tok, vocab, merges)
        write_package(out, vocab_json=os.path.join(tok, "vocab.json"), merges_txt=os.path.join(tok, "merges.txt"),
                      **package)


def trace_unet(unet, lat):
    """The AnalyzableUNet traced (forward and forward_concepts) and checked against eager at batch 1, 2, 5 and a
    second size, with its unet/layers.json table."""
    unet.eval()
    lc, dim = unet.config["in_channels"], unet.config["context_dim"]
    ctx = lambda b: torch.randn(b, 77, dim)  # noqa: E731
    t = lambda b: torch.rand(b) * 999  # noqa: E731
    wrapper = AnalyzableUNet(unet).eval()
    example = (torch.randn(1, lc, lat, lat), t(1), ctx(1))
    layers = layer_table(wrapper, *example)
    other = lat + 4 if lat % 8 == 0 else lat + 8
    un = trace_checked("unet", wrapper, example,
                       [(torch.randn(2, lc, lat, lat), t(2), ctx(2)), (torch.randn(5, lc, lat, lat), t(5), ctx(5)),
                        (torch.randn(2, lc, other, other), t(2), ctx(2))])
    return un, layers


def export_shapes(out, *, name, vae, text, unet, vocab, merges, sample_size, extra_files=None, plain_unet=False):
    """Traces every part, checks traced against eager (batch 1, 2, 5 and a second size), writes the package."""
    for m in (vae, text, unet):
        m.eval()
    torch.manual_seed(0)
    f = 4  # the VAE halves twice
    lat = sample_size // f
    lc = unet.config["in_channels"]
    ids = lambda b: torch.randint(0, len(vocab), (b, 77))  # noqa: E731
    ctx = lambda b: torch.randn(b, 77, unet.config["context_dim"])  # noqa: E731
    t = lambda b: torch.rand(b) * 999  # noqa: E731
    te = trace_checked("text_encoder", text, (ids(1),), [(ids(2),), (ids(5),)])
    if plain_unet:
        un = trace_checked("unet", unet, (torch.randn(1, lc, lat, lat), t(1), ctx(1)),
                           [(torch.randn(2, lc, lat, lat), t(2), ctx(2))])
        layers = {"cross_attention": [], "features": []}
    else:
        un, layers = trace_unet(unet, lat)
    enc, dec = trace_vae(vae, sample_size, lc, lat)
    write_with_vocab(out, vocab, merges, name=name, text_encoder=te, unet=un, vae_encoder=enc, vae_decoder=dec,
                     scheduler_config=dict(SD15_SCHEDULER_CONFIG, prediction_type="epsilon"), sample_size=sample_size,
                     vae_scale_factor=f, latent_channels=lc, prediction_type="epsilon",
                     scaling_factor=float(vae.scaling_factor), layers=layers, extra_files=extra_files)


FLOW_SCHEDULER_CONFIG = {  # diffusers' FlowMatchEulerDiscreteScheduler as SD3 configures it, without SD3's shift
    "_class_name": "FlowMatchEulerDiscreteScheduler",
    "_diffusers_version": "0.31.0",
    "num_train_timesteps": 1000,
    "shift": 1.0,
}


def export_shapes_mmdit(out, *, name, vae, text, transformer, vocab, merges, sample_size, max_length,
                        extra_files=None):
    """A format_version 2 package: the text encoder with its pooled row (PooledTextEncoder), the joint-attention
    transformer behind AnalyzableTransformer (velocity, joint-attention maps, block outputs), the flow-matching
    scheduler; every part traced and checked against eager (batch 1, 2, 5 and a second size)."""
    for m in (vae, text, transformer):
        m.eval()
    torch.manual_seed(0)
    f = 4
    lat = sample_size // f
    lc = transformer.config["in_channels"]
    dim = transformer.config["joint_attention_dim"]
    eos = vocab["<|endoftext|>"]

    def ids(b):
        x = torch.randint(0, len(vocab) - 1, (b, max_length))
        x[:, 5:] = eos  # every row ends within max_length, as tokenize() guarantees
        return x

    te = trace_checked("text_encoder", PooledTextEncoder(text, eos), (ids(1),), [(ids(2),), (ids(5),)])
    ctx = lambda b: torch.randn(b, max_length + 1, dim)  # noqa: E731
    t = lambda b: torch.rand(b) * 1000  # noqa: E731
    wrapper = AnalyzableTransformer(transformer, transformer.config["pooled_projection_dim"],
                                    transformer.config["patch_size"]).eval()
    example = (torch.randn(1, lc, lat, lat), t(1), ctx(1))
    layers = layer_table(wrapper, *example)
    other = lat + 4
    tr = trace_checked("transformer", wrapper, example,
                       [(torch.randn(2, lc, lat, lat), t(2), ctx(2)), (torch.randn(5, lc, lat, lat), t(5), ctx(5)),
                        (torch.randn(2, lc, other, other), t(2), ctx(2))])
    enc, dec = trace_vae(vae, sample_size, lc, lat)
    write_with_vocab(out, vocab, merges, name=name, text_encoder=te, unet=tr, vae_encoder=enc, vae_decoder=dec,
                     scheduler_config=FLOW_SCHEDULER_CONFIG, sample_size=sample_size, vae_scale_factor=f,
                     latent_channels=lc, prediction_type="flow", scaling_factor=float(vae.scaling_factor),
                     layers=layers, max_length=max_length, extra_files=extra_files, family="mmdit", pooled_rows=1)
