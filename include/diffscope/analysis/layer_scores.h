// Which layers and heads localise: ROC-AUC and word specificity of every kept per-layer and per-head map (generate
// --keep-layers / --keep-heads), their tables and layer x step figures, and the score of a layer or head selection
// made at analysis time from the kept arrays (DAAM's "which layers" question as one command).
#pragma once
#include <string>
#include <vector>

#include "diffscope/analysis/run_folder.h"

namespace diffscope {

/// A layer selection against the run's captured layers: "all", or a comma list whose items are model layer indices
/// (as generate --layers takes) or substrings of layer names ("up_blocks", "down_blocks.1"). Returns positions in
/// `layers`, ascending. Error naming --select-layers when an item matches nothing captured.
std::vector<size_t> select_layers(const std::string& spec, const std::vector<CapturedLayer>& layers);

/// A head selection: "all" or a comma list of head indices below `max_heads`. Error naming --select-heads otherwise.
std::vector<int> select_heads(const std::string& spec, int max_heads);

/// "down_blocks.0.attentions.0.transformer_blocks.0.attn2" -> "down_blocks.0.attentions.0" (figure labels).
std::string short_layer_name(const std::string& name);

}  // namespace diffscope
