"""A cross-attention processor that hands out the softmax probabilities it computes.

It works with diffusers' Attention modules (AttnProcessor semantics: optional spatial/group norm, 4-d inputs,
norm_cross, residual connection, rescale_output_factor) and with the shapes model's, which share the interface.
Scores are computed with matmul: torch 1.13's baddbmm on an uninitialised buffer (diffusers'
get_attention_scores) can return NaN on CPU for tiny sizes. The module's output is unchanged.
"""
import torch


class CaptureStore:
    """Collects (layer name, probabilities [B, heads, queries, keys]) in execution order during one forward.

    With `concepts` set (concept-word embeddings [B, C, D], generate --concepts), every recording layer also
    collects concept maps [B, heads, queries, C]: concept c's probability had its key been one more key beside the
    prompt's, sigmoid(s_c - logsumexp_j s_j), each concept on its own (a separate softmax that never feeds the
    module's output, so the image is unchanged and a concept's map does not depend on the other concepts)."""

    def __init__(self):
        self.maps = []
        self.concepts = None
        self.concept_maps = []
        self.recording = True  # False: forward_prediction (nothing collected, the same arithmetic)

    def clear(self):
        self.maps = []
        self.concept_maps = []


class CaptureProcessor:
    def __init__(self, name, store, record=True):
        self.name = name
        self.store = store
        self.record = record

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, *args,
                 **kwargs):
        residual = hidden_states
        if getattr(attn, "spatial_norm", None) is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            b, c, h, w = hidden_states.shape
            hidden_states = hidden_states.view(b, c, h * w).transpose(1, 2)
        batch, queries, _ = hidden_states.shape
        if getattr(attn, "group_norm", None) is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        query = attn.to_q(hidden_states)
        if encoder_hidden_states is None:
            encoder_hidden_states = hidden_states
        elif getattr(attn, "norm_cross", None):
            encoder_hidden_states = attn.norm_encoder_hidden_states(encoder_hidden_states)
        key = attn.to_k(encoder_hidden_states)
        value = attn.to_v(encoder_hidden_states)
        q, k, v = attn.head_to_batch_dim(query), attn.head_to_batch_dim(key), attn.head_to_batch_dim(value)
        scores = torch.matmul(q, k.transpose(-1, -2)) * attn.scale
        if attention_mask is not None:
            scores = scores + attention_mask
        dtype = q.dtype
        if getattr(attn, "upcast_softmax", False) or getattr(attn, "upcast_attention", False):
            scores = scores.float()
        probs = scores.softmax(dim=-1).to(dtype)
        record = self.record and self.store.recording
        if record and self.store.concepts is not None:
            self.store.concept_maps.append(self._concept_probs(attn, q, scores, batch))
        if record:
            # hand out the [B, heads, queries, keys] view and compute the output *from it*, so the exported maps lie
            # on the gradient path (relevance = grad x attention needs d loss / d maps)
            shaped = probs.reshape(batch, attn.heads, probs.shape[1], probs.shape[2])
            self.store.maps.append((self.name, shaped))
            probs = shaped.reshape(batch * attn.heads, shaped.shape[2], shaped.shape[3])
        out = attn.batch_to_head_dim(torch.matmul(probs, v))
        out = attn.to_out[0](out)
        out = attn.to_out[1](out)
        if input_ndim == 4:
            out = out.transpose(-1, -2).reshape(b, c, h, w)
        if getattr(attn, "residual_connection", False):
            out = out + residual
        return out / getattr(attn, "rescale_output_factor", 1.0)


    def _concept_probs(self, attn, q, scores, batch):
        concepts = self.store.concepts
        if getattr(attn, "norm_cross", None):
            concepts = attn.norm_encoder_hidden_states(concepts)
        kc = attn.head_to_batch_dim(attn.to_k(concepts))
        sc = torch.matmul(q, kc.transpose(-1, -2)) * attn.scale
        if scores.dtype != sc.dtype:
            sc = sc.to(scores.dtype)
        p = torch.sigmoid(sc - torch.logsumexp(scores, dim=-1, keepdim=True)).to(q.dtype)
        return p.reshape(batch, attn.heads, p.shape[1], p.shape[2])


def install_capture(unet):
    """Gives every cross-attention module (name ending in attn2) a recording processor and every self-attention
    module (attn1) a non-recording one (same maths, no baddbmm). Returns the shared store."""
    store = CaptureStore()
    for name, module in unet.named_modules():
        if not (hasattr(module, "to_q") and hasattr(module, "processor")):
            continue
        if name.endswith("attn2"):
            module.processor = CaptureProcessor(name, store, record=True)
        elif name.endswith("attn1"):
            module.processor = CaptureProcessor(name, store, record=False)
    return store
