"""Joint attention (SD3's MMDiT) with the softmax written out, and a processor that hands out its text slice.

diffusers' JointAttnProcessor2_0 needs torch 2's scaled_dot_product_attention; these functions compute the same
joint softmax with matmul (image tokens first, then text tokens, as diffusers concatenates them) and work with
diffusers' Attention modules and with the shapes MMDiT's (scripts/shapes/shapes_mmdit.py), which share the interface
(to_q/to_k/to_v, add_q_proj/add_k_proj/add_v_proj, optional norm_q/norm_k/norm_added_q/norm_added_k, to_out,
to_add_out, context_pre_only, heads, scale).
"""
import torch


def _heads(attn, x):
    """[B, T, heads * d] -> [B, heads, T, d]"""
    return x.view(x.shape[0], -1, attn.heads, x.shape[-1] // attn.heads).transpose(1, 2)


def _merge(x):
    """[B, heads, T, d] -> [B, T, heads * d]"""
    return x.transpose(1, 2).reshape(x.shape[0], -1, x.shape[1] * x.shape[3])


def image_qkv(attn, hidden_states):
    """The image stream's queries, keys and values [B, heads, N, d] (to_q/to_k/to_v, then norm_q/norm_k)."""
    q, k, v = (_heads(attn, attn.to_q(hidden_states)), _heads(attn, attn.to_k(hidden_states)),
               _heads(attn, attn.to_v(hidden_states)))
    if getattr(attn, "norm_q", None) is not None:
        q = attn.norm_q(q)
    if getattr(attn, "norm_k", None) is not None:
        k = attn.norm_k(k)
    return q, k, v


def text_qkv(attn, encoder_hidden_states):
    """The text stream's (or concept tokens') queries, keys and values (add_*_proj, then norm_added_q/k)."""
    q = _heads(attn, attn.add_q_proj(encoder_hidden_states))
    k = _heads(attn, attn.add_k_proj(encoder_hidden_states))
    v = _heads(attn, attn.add_v_proj(encoder_hidden_states))
    if getattr(attn, "norm_added_q", None) is not None:
        q = attn.norm_added_q(q)
    if getattr(attn, "norm_added_k", None) is not None:
        k = attn.norm_added_k(k)
    return q, k, v


def joint_probabilities(attn, hidden_states, encoder_hidden_states):
    """The joint softmax [B, heads, N+L, N+L] (queries and keys: the N image tokens, then the L text tokens), the
    joined keys and values [B, heads, N+L, d] and N."""
    n = hidden_states.shape[1]
    q, k, v = image_qkv(attn, hidden_states)
    cq, ck, cv = text_qkv(attn, encoder_hidden_states)
    q, k, v = torch.cat([q, cq], dim=2), torch.cat([k, ck], dim=2), torch.cat([v, cv], dim=2)
    probs = (torch.matmul(q, k.transpose(-1, -2)) * attn.scale).softmax(dim=-1)
    return probs, k, v, n


def joint_output(attn, out, n):
    """[B, heads, N+L, d] attention output -> (image stream output, text stream output; None for a context_pre_only
    layer), as diffusers' JointAttnProcessor2_0 returns them."""
    out = _merge(out)
    image, text = out[:, :n], out[:, n:]
    text = None if getattr(attn, "context_pre_only", False) else attn.to_add_out(text)
    return attn.to_out[1](attn.to_out[0](image)), text


class JointAttnProcessor:
    """Plain joint attention (the training-time processor of the shapes MMDiT)."""

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, *args, **kwargs):
        probs, _, v, n = joint_probabilities(attn, hidden_states, encoder_hidden_states)
        return joint_output(attn, torch.matmul(probs, v), n)


class JointCaptureProcessor:
    """Joint attention that records, per layer, the image-query x text-key block of the joint softmax
    [B, heads, N, L] (the probabilities the image tokens give the text tokens; each row's sum over text is the share
    of attention the text gets, the rest goes to image tokens). The output is computed from the recorded block, so
    the maps lie on the gradient path (relevance), and equals the plain processor's.

    With concept tokens in the store (generate --concepts), also ConceptAttention's maps (Helbling et al. 2025):
    the concept tokens run beside the text stream through this block's own modules (norm1_context, add_*_proj,
    to_add_out, norm2_context, ff_context), attending one way to the image tokens and to each other (no image or
    text token attends to them, so the image is unchanged); the map is, per image token, the softmax over concepts
    of the dot products between the image token's and each concept's attention outputs, taken before the output
    projections as the paper's reference code takes them (to_out and to_add_out map the two streams into different
    spaces; measured on shapes-mmdit-v1, maps after them score below chance): [B, 1, N, C]. The concept stream then
    moves on through to_add_out and the block's residual and feed-forward as the text stream does."""

    def __init__(self, name, store, block=None):
        self.name = name
        self.store = store
        self.block = block

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, *args, **kwargs):
        probs, k, v, n = joint_probabilities(attn, hidden_states, encoder_hidden_states)
        if self.store.recording:
            # the maps keep the package's own text tokens (store.text_tokens; SD3 without T5 appends rows of zeros
            # after them) and the output is computed from them, so that they lie on the gradient path
            keep = getattr(self.store, "text_tokens", None)
            keep = probs.shape[-1] - n if keep is None else keep
            image_rows, text_rows = probs[:, :, :n], probs[:, :, n:]
            maps = image_rows[:, :, :, n:n + keep]
            self.store.maps.append((self.name, maps))
            if getattr(self.store, "text_queries", False):  # the text-query x image-key block, as [B, heads, N, L]
                self.store.text_query_maps.append(text_rows[:, :, :keep, :n].transpose(-1, -2))
            probs = torch.cat([torch.cat([image_rows[:, :, :, :n], maps, image_rows[:, :, :, n + keep:]], dim=-1),
                               text_rows], dim=2)
        out = torch.matmul(probs, v)
        if self.store.recording and getattr(self.store, "concept_state", None) is not None:
            self._concepts(attn, k[:, :, :n], v[:, :, :n], out[:, :, :n])
        return joint_output(attn, out, n)

    def _concepts(self, attn, k, v, image_out):
        concepts_through_joint_block(attn, self.block, self.store, k, v, image_out)


def concepts_through_joint_block(attn, block, store, k, v, image_out):
    """ConceptAttention in one two-stream block (SD3's JointTransformerBlock, Flux's FluxTransformerBlock): k, v are
    the image tokens' keys and values [B, heads, N, d] (the joint attention's own, after any rotary embedding);
    image_out their attention outputs. Appends the layer's concept maps to store.concept_maps and moves
    store.concept_state on through the block. The concept tokens take no rotary embedding: Flux gives text tokens
    position 0, where the rotation is the identity."""
    c, temb = store.concept_state, store.temb
    pre_only = bool(getattr(attn, "context_pre_only", False))
    if pre_only:
        norm_c = block.norm1_context(c, temb)
    else:
        norm_c, gate_msa, shift_mlp, scale_mlp, gate_mlp = block.norm1_context(c, emb=temb)
    cq, ck, cv = text_qkv(attn, norm_c)
    keys, values = torch.cat([k, ck], dim=2), torch.cat([v, cv], dim=2)
    concept_out = torch.matmul((torch.matmul(cq, keys.transpose(-1, -2)) * attn.scale).softmax(dim=-1), values)
    image_o, concept_o = _merge(image_out), _merge(concept_out)
    store.concept_maps.append(torch.matmul(image_o, concept_o.transpose(-1, -2)).softmax(dim=-1).unsqueeze(1))
    if not pre_only:  # the concept tokens move on through the block as the text stream does
        c = c + gate_msa.unsqueeze(1) * attn.to_add_out(concept_o)
        norm_c = block.norm2_context(c) * (1 + scale_mlp[:, None]) + shift_mlp[:, None]
        c = c + gate_mlp.unsqueeze(1) * block.ff_context(norm_c)
    store.concept_state = c


def install_joint_capture(transformer, store):
    """Gives every joint-attention module (one with add_q_proj) a recording processor, in module order; each knows
    its transformer block (for the concept tokens' path through it)."""
    names = []
    blocks = {f"transformer_blocks.{i}.attn": blk for i, blk in enumerate(transformer.transformer_blocks)}
    for name, module in transformer.named_modules():
        if hasattr(module, "add_q_proj") and hasattr(module, "to_q"):
            processor = JointCaptureProcessor(name, store, blocks.get(name))
            if hasattr(module, "set_processor"):
                module.set_processor(processor)
            else:
                module.processor = processor
            names.append(name)
    return names
