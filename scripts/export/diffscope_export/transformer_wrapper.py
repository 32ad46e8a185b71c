"""AnalyzableTransformer: a joint-attention transformer (diffusers' SD3Transformer2DModel or the shapes MMDiT) behind
the same call as AnalyzableUNet, for packages of format_version 2:

    forward(sample, timestep, context) -> (velocity, joint-attention maps, block outputs)
    forward_prediction(sample, timestep, context) -> velocity

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

    def clear(self):
        self.maps = []


class AnalyzableTransformer(torch.nn.Module):
    def __init__(self, transformer, pooled_dim, patch_size):
        super().__init__()
        self.transformer = transformer
        self.pooled_dim = pooled_dim
        self.patch_size = patch_size
        self.store = _Store()
        self.layer_names_ = install_joint_capture(transformer, self.store)
        self.block_names = [f"transformer_blocks.{i}" for i in range(len(transformer.transformer_blocks))]
        self._features = []
        self._grid = (0, 0)
        for blk in transformer.transformer_blocks:
            blk.register_forward_hook(self._hook)

    def _hook(self, module, inputs, output):
        if self.store.recording:
            image = output[1]  # (text stream, image stream), as diffusers' JointTransformerBlock returns them
            h, w = self._grid
            self._features.append(image.transpose(1, 2).reshape(image.shape[0], image.shape[2], h, w))

    def _call(self, sample, timestep, context):
        tokens, pooled = context[:, :-1], context[:, -1, :self.pooled_dim]
        self._grid = (sample.shape[-2] // self.patch_size, sample.shape[-1] // self.patch_size)
        try:
            out = self.transformer(hidden_states=sample, encoder_hidden_states=tokens, pooled_projections=pooled,
                                   timestep=timestep, return_dict=False)
        except TypeError:  # the shapes MMDiT: positional, returns the tensor
            out = self.transformer(sample, tokens, pooled, timestep)
        return out[0] if isinstance(out, (tuple, list)) else out

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

    def layer_names(self):
        return list(self.layer_names_)


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
