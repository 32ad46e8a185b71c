"""Joint attention (SD3's MMDiT) with the softmax written out, and a processor that hands out its text slice.

diffusers' JointAttnProcessor2_0 needs torch 2's scaled_dot_product_attention; these functions compute the same
joint softmax with matmul (image tokens first, then text tokens, as diffusers concatenates them) and work with
diffusers' Attention modules and with the shapes MMDiT's (scripts/shapes/shapes_mmdit.py), which share the interface
(to_q/to_k/to_v, add_q_proj/add_k_proj/add_v_proj, optional norm_q/norm_k/norm_added_q/norm_added_k, to_out,
to_add_out, context_pre_only, heads, scale).
"""
import torch


def joint_probabilities(attn, hidden_states, encoder_hidden_states):
    """The joint softmax [B, heads, N+L, N+L] (queries and keys: the N image tokens, then the L text tokens), the
    joined values [B, heads, N+L, d] and N."""
    b, n, _ = hidden_states.shape

    def heads(x):
        return x.view(b, -1, attn.heads, x.shape[-1] // attn.heads).transpose(1, 2)

    q, k, v = heads(attn.to_q(hidden_states)), heads(attn.to_k(hidden_states)), heads(attn.to_v(hidden_states))
    if getattr(attn, "norm_q", None) is not None:
        q = attn.norm_q(q)
    if getattr(attn, "norm_k", None) is not None:
        k = attn.norm_k(k)
    cq = heads(attn.add_q_proj(encoder_hidden_states))
    ck = heads(attn.add_k_proj(encoder_hidden_states))
    cv = heads(attn.add_v_proj(encoder_hidden_states))
    if getattr(attn, "norm_added_q", None) is not None:
        cq = attn.norm_added_q(cq)
    if getattr(attn, "norm_added_k", None) is not None:
        ck = attn.norm_added_k(ck)
    q, k, v = torch.cat([q, cq], dim=2), torch.cat([k, ck], dim=2), torch.cat([v, cv], dim=2)
    probs = (torch.matmul(q, k.transpose(-1, -2)) * attn.scale).softmax(dim=-1)
    return probs, v, n


def joint_output(attn, out, n):
    """[B, heads, N+L, d] attention output -> (image stream output, text stream output; None for a context_pre_only
    layer), as diffusers' JointAttnProcessor2_0 returns them."""
    b = out.shape[0]
    out = out.transpose(1, 2).reshape(b, -1, out.shape[1] * out.shape[3])
    image, text = out[:, :n], out[:, n:]
    text = None if getattr(attn, "context_pre_only", False) else attn.to_add_out(text)
    return attn.to_out[1](attn.to_out[0](image)), text


class JointAttnProcessor:
    """Plain joint attention (the training-time processor of the shapes MMDiT)."""

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, *args, **kwargs):
        probs, v, n = joint_probabilities(attn, hidden_states, encoder_hidden_states)
        return joint_output(attn, torch.matmul(probs, v), n)


class JointCaptureProcessor:
    """Joint attention that records, per layer, the image-query x text-key block of the joint softmax
    [B, heads, N, L] (the probabilities the image tokens give the text tokens; each row's sum over text is the share
    of attention the text gets, the rest goes to image tokens). The output is computed from the recorded block, so
    the maps lie on the gradient path (relevance), and equals the plain processor's."""

    def __init__(self, name, store):
        self.name = name
        self.store = store

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, *args, **kwargs):
        probs, v, n = joint_probabilities(attn, hidden_states, encoder_hidden_states)
        if self.store.recording:
            image_rows, text_rows = probs[:, :, :n], probs[:, :, n:]
            maps = image_rows[:, :, :, n:]
            self.store.maps.append((self.name, maps))
            probs = torch.cat([torch.cat([image_rows[:, :, :, :n], maps], dim=-1), text_rows], dim=2)
        return joint_output(attn, torch.matmul(probs, v), n)


def install_joint_capture(transformer, store):
    """Gives every joint-attention module (one with add_q_proj) a recording processor, in module order."""
    names = []
    for name, module in transformer.named_modules():
        if hasattr(module, "add_q_proj") and hasattr(module, "to_q"):
            processor = JointCaptureProcessor(name, store)
            if hasattr(module, "set_processor"):
                module.set_processor(processor)
            else:
                module.processor = processor
            names.append(name)
    return names
