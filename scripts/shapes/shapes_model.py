#!/usr/bin/python3
"""shapes-v1: a small latent text-to-image diffusion model with Stable Diffusion's parts.

- AutoencoderKL-like VAE: 64x64x3 image <-> 16x16x4 latent (encoder gives mean and log-variance).
- Text encoder: a CLIP-style causal transformer over 77 token ids (token + position embeddings, final LayerNorm).
- UNet2DCondition-like UNet (epsilon prediction) whose modules follow diffusers' names
  (down_blocks.0.attentions.0.transformer_blocks.0.attn2, mid_block.attentions.0..., up_blocks.N...), and whose
  attention modules expose diffusers' Attention interface (to_q, to_k, to_v, to_out, heads, scale, processor),
  so the export code in scripts/export/diffscope_export serves this model and real diffusers checkpoints alike.
Cross-attention runs at 16x16 and 8x8 (down and up) and 4x4 (mid).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------- attention (diffusers' Attention interface)
class AttnProcessor:
    """Plain attention. Scores use matmul (torch 1.13's baddbmm on an empty buffer can give NaN on CPU)."""

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None):
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        q, k, v = attn.to_q(hidden_states), attn.to_k(context), attn.to_v(context)
        q, k, v = attn.head_to_batch_dim(q), attn.head_to_batch_dim(k), attn.head_to_batch_dim(v)
        probs = torch.matmul(q, k.transpose(-1, -2)).mul(attn.scale).softmax(dim=-1)
        out = attn.batch_to_head_dim(torch.matmul(probs, v))
        return attn.to_out[1](attn.to_out[0](out))


class Attention(nn.Module):
    def __init__(self, query_dim, cross_attention_dim=None, heads=4, dim_head=32):
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.scale = dim_head ** -0.5
        self.is_cross_attention = cross_attention_dim is not None
        kv_dim = cross_attention_dim or query_dim
        self.to_q = nn.Linear(query_dim, inner, bias=False)
        self.to_k = nn.Linear(kv_dim, inner, bias=False)
        self.to_v = nn.Linear(kv_dim, inner, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(inner, query_dim), nn.Dropout(0.0)])
        self.processor = AttnProcessor()

    def set_processor(self, processor):
        self.processor = processor

    def head_to_batch_dim(self, x):  # [B, N, H*d] -> [B*H, N, d]
        b, n, c = x.shape
        h = self.heads
        return x.reshape(b, n, h, c // h).permute(0, 2, 1, 3).reshape(b * h, n, c // h)

    def batch_to_head_dim(self, x):  # [B*H, N, d] -> [B, N, H*d]
        bh, n, d = x.shape
        h = self.heads
        return x.reshape(bh // h, h, n, d).permute(0, 2, 1, 3).reshape(bh // h, n, d * h)

    def forward(self, hidden_states, encoder_hidden_states=None, attention_mask=None):
        return self.processor(self, hidden_states, encoder_hidden_states, attention_mask)


class FeedForward(nn.Module):
    def __init__(self, dim, mult=2):
        super().__init__()
        self.net = nn.ModuleList([nn.Linear(dim, dim * mult * 2), nn.Dropout(0.0), nn.Linear(dim * mult, dim)])

    def forward(self, x):
        a, gate = self.net[0](x).chunk(2, dim=-1)  # GEGLU
        return self.net[2](self.net[1](a * F.gelu(gate)))


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim, context_dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, None, heads, dim // heads)
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = Attention(dim, context_dim, heads, dim // heads)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim)

    def forward(self, x, context):
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), encoder_hidden_states=context) + x
        return self.ff(self.norm3(x)) + x


class Transformer2DModel(nn.Module):
    def __init__(self, channels, context_dim, heads):
        super().__init__()
        self.norm = nn.GroupNorm(8, channels, eps=1e-6)
        self.proj_in = nn.Linear(channels, channels)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(channels, context_dim, heads)])
        self.proj_out = nn.Linear(channels, channels)

    def forward(self, x, context):
        b, c, h, w = x.shape
        res = x
        x = self.norm(x).permute(0, 2, 3, 1).reshape(b, h * w, c)
        x = self.proj_in(x)
        for blk in self.transformer_blocks:
            x = blk(x, context)
        x = self.proj_out(x).reshape(b, h, w, c).permute(0, 3, 1, 2)
        return x + res


# ---------------------------------------------------------------- UNet
class ResnetBlock2D(nn.Module):
    def __init__(self, cin, cout, temb_dim):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, cin, eps=1e-6)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb_dim, cout)
        self.norm2 = nn.GroupNorm(8, cout, eps=1e-6)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + (self.conv_shortcut(x) if self.conv_shortcut is not None else x)


class Downsample2D(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample2D(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x, size):
        return self.conv(F.interpolate(x, size=size, mode="nearest"))


class DownBlock(nn.Module):
    """resnets (+ attentions when cross-attention) and an optional downsampler; returns (h, skips)."""

    def __init__(self, cin, cout, temb_dim, context_dim, heads, attention, downsample):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(cin, cout, temb_dim)])
        self.attentions = nn.ModuleList([Transformer2DModel(cout, context_dim, heads)]) if attention else None
        self.downsamplers = nn.ModuleList([Downsample2D(cout)]) if downsample else None

    def forward(self, x, temb, context):
        skips = []
        for i, r in enumerate(self.resnets):
            x = r(x, temb)
            if self.attentions is not None:
                x = self.attentions[i](x, context)
            skips.append(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
            skips.append(x)
        return x, skips


class UpBlock(nn.Module):
    def __init__(self, cin, cout, skip_channels, temb_dim, context_dim, heads, attention, upsample):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(cin + s, cout, temb_dim) if i == 0 else
                                      ResnetBlock2D(cout + s, cout, temb_dim) for i, s in enumerate(skip_channels)])
        self.attentions = nn.ModuleList([Transformer2DModel(cout, context_dim, heads)
                                         for _ in skip_channels]) if attention else None
        self.upsamplers = nn.ModuleList([Upsample2D(cout)]) if upsample else None

    def forward(self, x, skips, temb, context, up_size=None):
        for i, r in enumerate(self.resnets):
            x = r(torch.cat([x, skips.pop()], dim=1), temb)
            if self.attentions is not None:
                x = self.attentions[i](x, context)
        if self.upsamplers is not None:
            x = self.upsamplers[0](x, up_size)
        return x


class MidBlock(nn.Module):
    def __init__(self, c, temb_dim, context_dim, heads):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(c, c, temb_dim), ResnetBlock2D(c, c, temb_dim)])
        self.attentions = nn.ModuleList([Transformer2DModel(c, context_dim, heads)])

    def forward(self, x, temb, context):
        x = self.resnets[0](x, temb)
        x = self.attentions[0](x, context)
        return self.resnets[1](x, temb)


class TimestepEmbedding(nn.Module):
    def __init__(self, cin, dim):
        super().__init__()
        self.linear_1 = nn.Linear(cin, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


def timestep_features(t, dim):
    """diffusers' Timesteps(flip_sin_to_cos=True, downscale_freq_shift=0)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class UNet(nn.Module):
    """Three resolutions (16, 8, 4 for a 16x16 latent); cross-attention at 16x16, 8x8 (down, up) and 4x4 (mid)."""

    def __init__(self, in_channels=4, channels=(64, 96, 128), context_dim=128, heads=4, temb_dim=256):
        super().__init__()
        c0, c1, c2 = channels
        self.config = dict(in_channels=in_channels, channels=list(channels), context_dim=context_dim, heads=heads,
                           temb_dim=temb_dim)
        self.time_channels = c0
        self.conv_in = nn.Conv2d(in_channels, c0, 3, padding=1)
        self.time_embedding = TimestepEmbedding(c0, temb_dim)
        self.down_blocks = nn.ModuleList([
            DownBlock(c0, c0, temb_dim, context_dim, heads, attention=True, downsample=True),   # 16 -> 8
            DownBlock(c0, c1, temb_dim, context_dim, heads, attention=True, downsample=True),   # 8 -> 4
            DownBlock(c1, c2, temb_dim, context_dim, heads, attention=False, downsample=False),  # 4
        ])
        self.mid_block = MidBlock(c2, temb_dim, context_dim, heads)
        # skips (in push order): conv_in c0 | d0: c0, c0(down) | d1: c1, c1(down) | d2: c2
        self.up_blocks = nn.ModuleList([
            UpBlock(c2, c2, [c2, c1], temb_dim, context_dim, heads, attention=False, upsample=True),  # 4 -> 8
            UpBlock(c2, c1, [c1, c0], temb_dim, context_dim, heads, attention=True, upsample=True),   # 8 -> 16
            UpBlock(c1, c0, [c0, c0], temb_dim, context_dim, heads, attention=True, upsample=False),  # 16
        ])
        self.conv_norm_out = nn.GroupNorm(8, c0, eps=1e-6)
        self.conv_out = nn.Conv2d(c0, in_channels, 3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states):
        temb = self.time_embedding(timestep_features(timestep, self.time_channels))
        x = self.conv_in(sample)
        skips = [x]
        sizes = []
        for blk in self.down_blocks:
            sizes.append(x.shape[-2:])
            x, s = blk(x, temb, encoder_hidden_states)
            skips.extend(s)
        x = self.mid_block(x, temb, encoder_hidden_states)
        # up block i upsamples to the size the matching down block started from
        up_targets = [sizes[1], sizes[0], None]
        for blk, size in zip(self.up_blocks, up_targets):
            x = blk(x, skips, temb, encoder_hidden_states, size)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


# ---------------------------------------------------------------- text encoder
class TextEncoder(nn.Module):
    def __init__(self, vocab_size, dim=128, layers=3, heads=4, max_length=77):
        super().__init__()
        self.config = dict(vocab_size=vocab_size, dim=dim, layers=layers, heads=heads, max_length=max_length)
        self.token_embedding = nn.Embedding(vocab_size, dim)
        self.position_embedding = nn.Parameter(torch.zeros(max_length, dim))
        layer = nn.TransformerEncoderLayer(dim, heads, dim * 4, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.final_layer_norm = nn.LayerNorm(dim)
        mask = torch.full((max_length, max_length), float("-inf")).triu(1)
        self.register_buffer("causal_mask", mask, persistent=False)
        nn.init.normal_(self.position_embedding, std=0.01)
        nn.init.normal_(self.token_embedding.weight, std=0.02)

    def forward(self, input_ids):
        n = input_ids.shape[1]
        x = self.token_embedding(input_ids) + self.position_embedding[:n]
        x = self.encoder(x, mask=self.causal_mask[:n, :n])
        return self.final_layer_norm(x)


# ---------------------------------------------------------------- VAE
class VaeResBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, cin, eps=1e-6)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(8, cout, eps=1e-6)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class VaeEncoder(nn.Module):
    def __init__(self, ch=(32, 64, 96), latent=4):
        super().__init__()
        self.conv_in = nn.Conv2d(3, ch[0], 3, padding=1)                       # 64
        self.blocks = nn.Sequential(
            nn.SiLU(), nn.Conv2d(ch[0], ch[1], 3, stride=2, padding=1),          # 32
            VaeResBlock(ch[1], ch[1]), nn.Conv2d(ch[1], ch[2], 3, stride=2, padding=1),  # 16
            VaeResBlock(ch[2], ch[2]))
        self.norm_out = nn.GroupNorm(8, ch[2], eps=1e-6)
        self.conv_out = nn.Conv2d(ch[2], 2 * latent, 3, padding=1)

    def forward(self, x):
        h = self.conv_out(F.silu(self.norm_out(self.blocks(self.conv_in(x)))))
        mean, logvar = h.chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)


class VaeDecoder(nn.Module):
    def __init__(self, ch=(96, 64, 32), latent=4):
        super().__init__()
        self.conv_in = nn.Conv2d(latent, ch[0], 3, padding=1)                   # 16
        self.block0 = nn.Sequential(VaeResBlock(ch[0], ch[0]), VaeResBlock(ch[0], ch[0]))
        self.up1 = nn.Conv2d(ch[0], ch[1], 3, padding=1)                        # 32
        self.block1 = VaeResBlock(ch[1], ch[1])
        self.up2 = nn.Conv2d(ch[1], ch[2], 3, padding=1)                        # 64
        self.norm_out = nn.GroupNorm(8, ch[2], eps=1e-6)
        self.conv_out = nn.Conv2d(ch[2], 3, 3, padding=1)

    def forward(self, z):
        h = self.block0(self.conv_in(z))
        h = self.block1(self.up1(F.interpolate(h, scale_factor=2.0, mode="nearest")))
        h = self.up2(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


class AutoencoderKL(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = VaeEncoder()
        self.decoder = VaeDecoder()
        self.register_buffer("scaling_factor", torch.tensor(1.0))


def count_params(m):
    return sum(p.numel() for p in m.parameters())


if __name__ == "__main__":
    u, t, v = UNet(), TextEncoder(586), AutoencoderKL()
    print("unet", count_params(u), "text", count_params(t), "vae", count_params(v))
    x = torch.randn(2, 4, 16, 16)
    ctx = t(torch.zeros(2, 77, dtype=torch.long))
    print(u(x, torch.tensor([10.0, 500.0]), ctx).shape, u(torch.randn(1, 4, 12, 20), torch.tensor([3.0]), ctx[:1]).shape)
    m, lv = v.encoder(torch.randn(2, 3, 64, 64))
    print(m.shape, v.decoder(m).shape)
