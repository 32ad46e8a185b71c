#!/usr/bin/python3
"""shapes-mmdit: a small MMDiT (Stable Diffusion 3's joint-attention transformer) for the shapes scenes.

Module names, parameter names and arithmetic follow diffusers 0.31's SD3Transformer2DModel, so its state dict loads
into that class unchanged (scripts/export/check_mmdit_against_diffusers.py checks the outputs agree):
pos_embed (PatchEmbed with a cropped sin-cos table), time_text_embed (timestep + pooled text projection),
context_embedder, transformer_blocks.N (AdaLayerNormZero on both streams, one joint attention over image then text
tokens with to_q/to_k/to_v and add_q_proj/add_k_proj/add_v_proj, tanh-GELU feed-forwards; the last block is
context_pre_only), norm_out (AdaLayerNormContinuous) and proj_out, then unpatchify.

The attention modules expose diffusers' Attention interface (to_q, add_q_proj, to_out, to_add_out, heads, scale,
processor), so the export's joint-attention capture (scripts/export/diffscope_export/joint_attention.py) serves this
model and diffusers' alike. The default processor computes the joint softmax explicitly with matmul (the
same functions).
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "export"))  # diffscope_export
from diffscope_export.joint_attention import JointAttnProcessor  # noqa: E402
from shapes_model import timestep_features  # noqa: E402  (diffusers' Timesteps, flip_sin_to_cos, shift 0)


def sincos_2d(embed_dim, grid_size, base_size, interpolation_scale=1.0):
    """diffusers' get_2d_sincos_pos_embed (numpy, float64 frequencies): [grid_size^2, embed_dim]."""
    grid_h = np.arange(grid_size, dtype=np.float32) / (grid_size / base_size) / interpolation_scale
    grid_w = np.arange(grid_size, dtype=np.float32) / (grid_size / base_size) / interpolation_scale
    grid = np.stack(np.meshgrid(grid_w, grid_h), axis=0).reshape([2, 1, grid_size, grid_size])

    def one_d(dim, pos):
        omega = np.arange(dim // 2, dtype=np.float64) / (dim / 2.0)
        omega = 1.0 / 10000 ** omega
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    return np.concatenate([one_d(embed_dim // 2, grid[0]), one_d(embed_dim // 2, grid[1])], axis=1)


class PatchEmbed(nn.Module):
    def __init__(self, sample_size, patch_size, in_channels, embed_dim, pos_embed_max_size):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.patch_size = patch_size
        self.pos_embed_max_size = pos_embed_max_size
        table = sincos_2d(embed_dim, pos_embed_max_size, base_size=sample_size // patch_size)
        self.register_buffer("pos_embed", torch.from_numpy(table).float().unsqueeze(0))

    def cropped_pos_embed(self, height, width):
        h, w = height // self.patch_size, width // self.patch_size
        m = self.pos_embed_max_size
        top, left = (m - h) // 2, (m - w) // 2
        grid = self.pos_embed.reshape(1, m, m, -1)[:, top:top + h, left:left + w, :]
        return grid.reshape(1, -1, grid.shape[-1])

    def forward(self, latent):
        height, width = latent.shape[-2:]
        x = self.proj(latent).flatten(2).transpose(1, 2)
        return x + self.cropped_pos_embed(height, width)


class TwoLayer(nn.Module):
    """TimestepEmbedding / PixArtAlphaTextProjection: linear_1, SiLU, linear_2."""

    def __init__(self, cin, dim):
        super().__init__()
        self.linear_1 = nn.Linear(cin, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class CombinedTimestepTextProjEmbeddings(nn.Module):
    def __init__(self, embedding_dim, pooled_projection_dim):
        super().__init__()
        self.timestep_embedder = TwoLayer(256, embedding_dim)
        self.text_embedder = TwoLayer(pooled_projection_dim, embedding_dim)

    def forward(self, timestep, pooled):
        return self.timestep_embedder(timestep_features(timestep, 256).to(pooled.dtype)) + self.text_embedder(pooled)


class AdaLayerNormZero(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.linear = nn.Linear(dim, 6 * dim)
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)

    def forward(self, x, emb):
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.linear(F.silu(emb)).chunk(6, dim=1)
        return self.norm(x) * (1 + scale_msa[:, None]) + shift_msa[:, None], gate_msa, shift_mlp, scale_mlp, gate_mlp


class AdaLayerNormContinuous(nn.Module):
    def __init__(self, dim, cond_dim):
        super().__init__()
        self.linear = nn.Linear(cond_dim, 2 * dim)
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)

    def forward(self, x, cond):
        scale, shift = self.linear(F.silu(cond).to(x.dtype)).chunk(2, dim=1)
        return self.norm(x) * (1 + scale)[:, None, :] + shift[:, None, :]


class JointAttention(nn.Module):
    def __init__(self, dim, heads, head_dim, context_pre_only):
        super().__init__()
        inner = heads * head_dim
        self.heads = heads
        self.scale = head_dim ** -0.5
        self.context_pre_only = context_pre_only
        self.to_q, self.to_k, self.to_v = nn.Linear(dim, inner), nn.Linear(dim, inner), nn.Linear(dim, inner)
        self.add_k_proj, self.add_v_proj = nn.Linear(dim, inner), nn.Linear(dim, inner)
        self.add_q_proj = nn.Linear(dim, inner)
        self.to_out = nn.ModuleList([nn.Linear(inner, dim), nn.Dropout(0.0)])
        if not context_pre_only:
            self.to_add_out = nn.Linear(inner, dim)
        self.processor = JointAttnProcessor()

    def set_processor(self, processor):
        self.processor = processor

    def forward(self, hidden_states, encoder_hidden_states=None):
        return self.processor(self, hidden_states, encoder_hidden_states)


class GELUProj(nn.Module):
    def __init__(self, dim, inner):
        super().__init__()
        self.proj = nn.Linear(dim, inner)

    def forward(self, x):
        return F.gelu(self.proj(x), approximate="tanh")


class FeedForward(nn.Module):
    def __init__(self, dim, mult=4):
        super().__init__()
        self.net = nn.ModuleList([GELUProj(dim, dim * mult), nn.Dropout(0.0), nn.Linear(dim * mult, dim)])

    def forward(self, x):
        for m in self.net:
            x = m(x)
        return x


class JointTransformerBlock(nn.Module):
    def __init__(self, dim, heads, head_dim, context_pre_only):
        super().__init__()
        self.context_pre_only = context_pre_only
        self.norm1 = AdaLayerNormZero(dim)
        self.norm1_context = AdaLayerNormContinuous(dim, dim) if context_pre_only else AdaLayerNormZero(dim)
        self.attn = JointAttention(dim, heads, head_dim, context_pre_only)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.ff = FeedForward(dim)
        if not context_pre_only:
            self.norm2_context = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
            self.ff_context = FeedForward(dim)

    def forward(self, hidden_states, encoder_hidden_states, temb):
        norm_h, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.norm1(hidden_states, temb)
        if self.context_pre_only:
            norm_c = self.norm1_context(encoder_hidden_states, temb)
        else:
            norm_c, c_gate_msa, c_shift_mlp, c_scale_mlp, c_gate_mlp = self.norm1_context(encoder_hidden_states, temb)
        attn_out, context_attn_out = self.attn(norm_h, norm_c)
        hidden_states = hidden_states + gate_msa.unsqueeze(1) * attn_out
        norm_h = self.norm2(hidden_states) * (1 + scale_mlp[:, None]) + shift_mlp[:, None]
        hidden_states = hidden_states + gate_mlp.unsqueeze(1) * self.ff(norm_h)
        if self.context_pre_only:
            return None, hidden_states
        encoder_hidden_states = encoder_hidden_states + c_gate_msa.unsqueeze(1) * context_attn_out
        norm_c = self.norm2_context(encoder_hidden_states) * (1 + c_scale_mlp[:, None]) + c_shift_mlp[:, None]
        encoder_hidden_states = encoder_hidden_states + c_gate_mlp.unsqueeze(1) * self.ff_context(norm_c)
        return encoder_hidden_states, hidden_states


class SD3Transformer(nn.Module):
    """SD3Transformer2DModel's structure; `config` holds diffusers' constructor arguments."""

    def __init__(self, sample_size=16, patch_size=2, in_channels=4, num_layers=6, attention_head_dim=32,
                 num_attention_heads=4, joint_attention_dim=128, caption_projection_dim=128,
                 pooled_projection_dim=128, out_channels=4, pos_embed_max_size=16):
        super().__init__()
        self.config = dict(sample_size=sample_size, patch_size=patch_size, in_channels=in_channels,
                           num_layers=num_layers, attention_head_dim=attention_head_dim,
                           num_attention_heads=num_attention_heads, joint_attention_dim=joint_attention_dim,
                           caption_projection_dim=caption_projection_dim, pooled_projection_dim=pooled_projection_dim,
                           out_channels=out_channels, pos_embed_max_size=pos_embed_max_size)
        inner = num_attention_heads * attention_head_dim
        self.out_channels = out_channels
        self.pos_embed = PatchEmbed(sample_size, patch_size, in_channels, inner, pos_embed_max_size)
        self.time_text_embed = CombinedTimestepTextProjEmbeddings(inner, pooled_projection_dim)
        self.context_embedder = nn.Linear(joint_attention_dim, caption_projection_dim)
        self.transformer_blocks = nn.ModuleList([
            JointTransformerBlock(inner, num_attention_heads, attention_head_dim, context_pre_only=i == num_layers - 1)
            for i in range(num_layers)])
        self.norm_out = AdaLayerNormContinuous(inner, inner)
        self.proj_out = nn.Linear(inner, patch_size * patch_size * out_channels)

    def forward(self, hidden_states, encoder_hidden_states, pooled_projections, timestep):
        height, width = hidden_states.shape[-2:]
        x = self.pos_embed(hidden_states)
        temb = self.time_text_embed(timestep, pooled_projections)
        ctx = self.context_embedder(encoder_hidden_states)
        for block in self.transformer_blocks:
            ctx, x = block(x, ctx, temb)
        x = self.proj_out(self.norm_out(x, temb))
        p = self.config["patch_size"]
        h, w = height // p, width // p
        x = x.reshape(x.shape[0], h, w, p, p, self.out_channels)
        x = torch.einsum("nhwpqc->nchpwq", x)
        return x.reshape(x.shape[0], self.out_channels, h * p, w * p)


def pooled_from_hidden(hidden, ids, eos_id):
    """CLIP's pooled output: the final hidden state at the first end-of-text token of each row."""
    first = (ids == eos_id).int().argmax(dim=-1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), first]


if __name__ == "__main__":
    m = SD3Transformer()
    print("parameters", sum(p.numel() for p in m.parameters()))
    out = m(torch.randn(2, 4, 16, 16), torch.randn(2, 32, 128), torch.randn(2, 128), torch.tensor([10.0, 900.0]))
    print(out.shape, m(torch.randn(1, 4, 12, 20), torch.randn(1, 32, 128), torch.randn(1, 128),
                       torch.tensor([500.0])).shape)
