"""AnalyzableTransformer: a joint-attention transformer (diffusers' SD3Transformer2DModel or the shapes MMDiT) behind
the same call as AnalyzableUNet, for packages of format_version 2:

    forward(sample, timestep, context) -> (velocity, joint-attention maps, block outputs)
    forward_prediction(sample, timestep, context) -> velocity
    forward_concepts(sample, timestep, context, concepts) -> forward()'s outputs + ConceptAttention maps per layer

`context` is the package text encoder's output [B, L + 1, D]: L token rows, then one row whose first P entries are
the pooled text vector (SD3's pooled_projections; model_index.json "pooled_rows": 1). The maps are, per joint
attention layer in execution order, the image-query x text-key block of the joint softmax [B, heads, N, L]; the block
outputs are the image stream after each transformer block as [B, C, h, w] (h, w: the latent size over the patch
size)."""
import torch

from .joint_attention import install_joint_capture


class _Store:
    def __init__(self):
        self.maps = []
        self.recording = True
        self.concept_state = None  # the concept tokens' stream (forward_concepts), block by block
        self.concept_maps = []
        self.text_queries = False  # forward_text_queries: also the text-query x image-key blocks
        self.text_query_maps = []
        self.temb = None
        self.text_tokens = None  # the package's own text rows (the maps' last axis)
        self.text_rows = 0  # Flux: the text tokens at the front of the single-stream blocks' joined sequence

    def clear(self):
        self.maps = []
        self.concept_maps = []
        self.text_query_maps = []


class JointAttentionMethods(torch.nn.Module):
    """The traced methods every joint-attention wrapper shares (AnalyzableTransformer, flux.AnalyzableFlux): a
    subclass provides _call(sample, timestep, context) -> velocity, the store its processors record into, the
    block-output list _features its hooks fill, the transformer's context_embedder and layer_names_."""

    def forward(self, sample, timestep, context):
        self.store.clear()
        self._features = []
        velocity = self._call(sample, timestep, context)
        return velocity, [m for _, m in self.store.maps], list(self._features)

    def forward_prediction(self, sample, timestep, context):
        self.store.recording = False
        try:
            return self.forward(sample, timestep, context)[0]
        finally:
            self.store.recording = True

    def forward_concepts(self, sample, timestep, context, concepts):
        """forward() plus, per joint-attention layer, ConceptAttention's maps [B, 1, N, C] of `concepts` [B, C, D]
        (text-encoder embeddings of the concept words, in the width the transformer's context_embedder takes:
        joint_attention.JointCaptureProcessor, flux.FluxCaptureProcessor). The velocity and the prompt's maps are
        forward()'s."""
        self.store.concept_state = self.transformer.context_embedder(concepts)
        try:
            velocity, maps, feats = self.forward(sample, timestep, context)
            concept_maps = list(self.store.concept_maps)
        finally:
            self.store.concept_state = None
        return velocity, maps, feats, concept_maps

    def forward_text_queries(self, sample, timestep, context):
        """forward() plus, per joint-attention layer, the text-query x image-key block of the joint softmax, transposed
        to [B, heads, N, L] (entry (n, l): how much text token l's query gives image token n; each token's column
        sums over N to the share of its attention that goes to the image). The velocity and maps are forward()'s."""
        self.store.text_queries = True
        try:
            velocity, maps, feats = self.forward(sample, timestep, context)
            text_query_maps = list(self.store.text_query_maps)
        finally:
            self.store.text_queries = False
        return velocity, maps, feats, text_query_maps

    def layer_names(self):
        return list(self.layer_names_)




class AnalyzableTransformer(JointAttentionMethods):
    def __init__(self, transformer, pooled_dim, patch_size, zero_rows=0):
        """`zero_rows`: text rows of zeros appended after the tokens before the transformer sees them (SD3 run without
        its T5 encoder: diffusers feeds 77 rows of zeros in T5's place); they take part in the joint attention, and
        the maps keep the package's own tokens only."""
        super().__init__()
        self.transformer = transformer
        self.pooled_dim = pooled_dim
        self.patch_size = patch_size
        self.zero_rows = zero_rows
        self.store = _Store()
        self.layer_names_ = install_joint_capture(transformer, self.store)
        self.block_names = [f"transformer_blocks.{i}" for i in range(len(transformer.transformer_blocks))]
        self._features = []
        self._grid = (0, 0)
        for blk in transformer.transformer_blocks:
            blk.register_forward_hook(self._hook)
        transformer.time_text_embed.register_forward_hook(self._temb_hook)

    def _temb_hook(self, module, inputs, output):
        self.store.temb = output

    def _hook(self, module, inputs, output):
        if self.store.recording:
            image = output[1]  # (text stream, image stream), as diffusers' JointTransformerBlock returns them
            h, w = self._grid
            feature = image.transpose(1, 2).reshape(image.shape[0], image.shape[2], h, w)
            self._features.append(feature)
            # the next block reads the feature map itself (the same numbers, back in token order), so the gradient
            # of the output reaches it: DF-CAM's Grad-CAM differentiates with respect to these tensors, and a reshaped
            # copy beside the graph would get none
            return output[0], feature.flatten(2).transpose(1, 2)

    def _call(self, sample, timestep, context):
        tokens, pooled = context[:, :-1], context[:, -1, :self.pooled_dim]
        self.store.text_tokens = tokens.shape[1]
        if self.zero_rows:
            tokens = torch.cat([tokens, tokens.new_zeros(tokens.shape[0], self.zero_rows, tokens.shape[2])], dim=1)
        self._grid = (sample.shape[-2] // self.patch_size, sample.shape[-1] // self.patch_size)
        try:
            out = self.transformer(hidden_states=sample, encoder_hidden_states=tokens, pooled_projections=pooled,
                                   timestep=timestep, return_dict=False)
        except TypeError:  # the shapes MMDiT: positional, returns the tensor
            out = self.transformer(sample, tokens, pooled, timestep)
        return out[0] if isinstance(out, (tuple, list)) else out

class PooledTextEncoder(torch.nn.Module):
    """A CLIP-style text encoder whose output gains the pooled row: [B, L, D] hidden states, then the hidden state
    at each row's first end-of-text token (CLIP's pooled output) -> [B, L + 1, D]."""

    def __init__(self, encoder, eos_id):
        super().__init__()
        self.encoder = encoder
        self.eos_id = eos_id

    def forward(self, input_ids):
        hidden = self.encoder(input_ids)
        first = (input_ids == self.eos_id).int().argmax(dim=-1)
        pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), first]
        return torch.cat([hidden, pooled[:, None]], dim=1)
