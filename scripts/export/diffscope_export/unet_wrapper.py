"""AnalyzableUNet: (sample, timestep, context) -> (noise_pred, cross-attention probabilities, block outputs);
forward_concepts(sample, timestep, context, concepts) -> the same plus per-layer concept maps (generate --concepts);
forward_prediction(sample, timestep, context) -> noise_pred alone."""
import torch

from .attention import install_capture


def _first_tensor(out):
    if isinstance(out, (tuple, list)):
        return out[0]
    if hasattr(out, "sample"):
        return out.sample
    return out


class AnalyzableUNet(torch.nn.Module):
    """Wraps a diffusers UNet2DConditionModel or the shapes model's UNet.

    Returns noise_pred [B,C,h,w]; the cross-attention probabilities [B, heads, h_l*w_l, 77] of every attn2
    module in execution order; and the outputs of down_blocks.*, mid_block and up_blocks.* (features)."""

    def __init__(self, unet):
        super().__init__()
        self.unet = unet
        self.store = install_capture(unet)
        self.block_names = [f"down_blocks.{i}" for i in range(len(unet.down_blocks))] + ["mid_block"] + \
                           [f"up_blocks.{i}" for i in range(len(unet.up_blocks))]
        self._features = []
        blocks = list(unet.down_blocks) + [unet.mid_block] + list(unet.up_blocks)
        for blk in blocks:
            blk.register_forward_hook(self._hook)

    def _hook(self, module, inputs, output):
        if self.store.recording:
            self._features.append(_first_tensor(output))

    def forward(self, sample, timestep, encoder_hidden_states):
        self.store.clear()
        self._features = []
        try:
            out = self.unet(sample, timestep, encoder_hidden_states, return_dict=False)
        except TypeError:
            out = self.unet(sample, timestep, encoder_hidden_states)
        noise = _first_tensor(out)
        maps = [p for _, p in self.store.maps]
        feats = list(self._features)
        return noise, maps, feats

    def forward_prediction(self, sample, timestep, encoder_hidden_states):
        """forward()'s prediction alone, for callers that want no maps (saliency's many denoiser calls, runs without
        capture): the same arithmetic, nothing collected or returned."""
        self.store.recording = False
        try:
            noise, _, _ = self.forward(sample, timestep, encoder_hidden_states)
        finally:
            self.store.recording = True
        return noise

    def forward_concepts(self, sample, timestep, encoder_hidden_states, concepts):
        """forward() plus, per attn2 layer, the concept maps [B, heads, queries, C] of `concepts` [B, C, D]
        (attention.CaptureStore). The prediction and the prompt's maps are forward()'s."""
        self.store.concepts = concepts
        try:
            noise, maps, feats = self.forward(sample, timestep, encoder_hidden_states)
            concept_maps = list(self.store.concept_maps)
        finally:
            self.store.concepts = None
        return noise, maps, feats, concept_maps

    def layer_names(self):
        """attn2 names in execution order (valid after one forward)."""
        return [n for n, _ in self.store.maps]
