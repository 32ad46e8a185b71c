"""Tracing with an eager-vs-traced check, and writing the model package folder (README "The model package")."""
import json
import math
import hashlib
import os
import shutil

import torch

TOLERANCE = 1e-4


class ExportError(RuntimeError):
    pass


def _flatten(out):
    if isinstance(out, torch.Tensor):
        return [out]
    flat = []
    for o in out:
        flat.extend(_flatten(o))
    return flat


def max_difference(a, b):
    fa, fb = _flatten(a), _flatten(b)
    if len(fa) != len(fb):
        raise ExportError(f"traced module returns {len(fb)} tensors, eager returns {len(fa)}")
    worst = 0.0
    for x, y in zip(fa, fb):
        if x.shape != y.shape:
            raise ExportError(f"traced output shape {tuple(y.shape)} differs from eager {tuple(x.shape)}")
        worst = max(worst, (x.float() - y.float()).abs().max().item() if x.numel() else 0.0)
    return worst


def _check_traced(name, eager, traced, inputs_list, tolerance):
    for inputs in inputs_list:
        try:
            got = traced(*inputs)
        except Exception as e:  # a shape baked into the trace
            raise ExportError(f"{name}: traced module fails on inputs of shapes "
                              f"{[tuple(i.shape) for i in inputs]} ({str(e).splitlines()[0]})")
        diff = max_difference(eager(*inputs), got)
        if not math.isfinite(diff) or diff > tolerance:
            raise ExportError(f"{name}: traced output differs from eager by {diff:.3g} (limit {tolerance:g}) on "
                              f"inputs {[tuple(i.shape) for i in inputs]}; refusing to write the package")


def _with_concepts(inputs, count):
    """(sample, timestep, context) + concept embeddings [B, count, D] (seeded by count)."""
    g = torch.Generator().manual_seed(1000 + count)
    context = inputs[2]
    concepts = torch.randn(context.shape[0], count, context.shape[-1], generator=g)
    return tuple(inputs) + (concepts.to(context.device, context.dtype),)


def trace_checked(name, module, example, checks, tolerance=TOLERANCE):
    """torch.jit.trace `module` on `example` inputs, then compare traced and eager outputs on each input tuple in
    `checks` (other batch sizes and spatial sizes); raise ExportError naming the module and the difference.
    A module with a forward_prediction method (AnalyzableUNet, AnalyzableTransformer) has it traced and checked
    too, forward_text_queries where it has one, and forward_concepts (with 1, 2 and 3 concepts)."""
    module.eval()
    with torch.no_grad():
        inputs_list = [example] + list(checks)
        if hasattr(module, "forward_prediction"):
            methods = {"forward": example, "forward_prediction": example}
            if hasattr(module, "forward_concepts"):
                methods["forward_concepts"] = _with_concepts(example, 2)
            if hasattr(module, "forward_text_queries"):
                methods["forward_text_queries"] = example
            traced = torch.jit.trace_module(module, methods, check_trace=False, strict=False)
            _check_traced(name, module, traced, inputs_list, tolerance)
            _check_traced(name + " (forward_prediction)", module.forward_prediction, traced.forward_prediction,
                          inputs_list, tolerance)
            if hasattr(module, "forward_text_queries"):
                _check_traced(name + " (forward_text_queries)", module.forward_text_queries,
                              traced.forward_text_queries, inputs_list, tolerance)
            if hasattr(module, "forward_concepts"):
                _check_traced(name + " (forward_concepts)", module.forward_concepts, traced.forward_concepts,
                              [_with_concepts(i, c) for i in inputs_list for c in (1, 2, 3)], tolerance)
        else:
            traced = torch.jit.trace(module, example, check_trace=False, strict=False)
            _check_traced(name, module, traced, inputs_list, tolerance)
    return traced


def _write_json(path, obj):
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(path + ".tmp", path)


def layer_table(wrapper, sample, timestep, context):
    """Runs the wrapper once and describes its outputs for unet/layers.json."""
    with torch.no_grad():
        noise, maps, feats = wrapper(sample, timestep, context)
    lh, lw = sample.shape[-2:]
    cross = []
    for (name, probs) in wrapper.store.maps:
        n = probs.shape[2]
        s = max(1, round(math.sqrt(lh * lw / n)))
        h, w = -(-lh // s), -(-lw // s)
        if h * w != n:
            raise ExportError(f"{name}: {n} queries do not match a downsampled {lh}x{lw} grid")
        block = name.split(".")[0].replace("_blocks", "").replace("_block", "")
        cross.append({"name": name, "block": block, "heads": int(probs.shape[1]), "height": h, "width": w})
    features = []
    for name, f in zip(wrapper.block_names, feats):
        features.append({"name": name, "block": name.split(".")[0].replace("_blocks", "").replace("_block", ""),
                         "channels": int(f.shape[1]), "height": int(f.shape[2]), "width": int(f.shape[3])})
    key = "joint_attention" if hasattr(wrapper, "pooled_dim") else "cross_attention"
    return {key: cross, "features": features}


# The files that identify a model; diffscope's package_files (src/engine/model_info.cpp) lists the same.
PACKAGE_FILES = ("model_index.json", "tokenizer/vocab.json", "tokenizer/merges.txt", "text_encoder/model.pt",
                 "unet/model.pt", "unet/layers.json", "transformer/model.pt", "transformer/layers.json", "vae/decoder.pt", "vae/encoder.pt", "vae/config.json",
                 "vae/latent_rgb.json", "scheduler/scheduler_config.json", "tokenizer_3/spiece.model")


def write_hashes(package):
    """hashes.json: each package file's SHA-256 with the size and modification time it had, so that diffscope runs
    record the model's identity without reading the weights again (diffscope verify -m PKG checks them in full)."""
    files = {}
    for rel in PACKAGE_FILES:
        path = os.path.join(package, rel)
        if not os.path.isfile(path):
            continue
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        st = os.stat(path)
        files[rel] = {"sha256": h.hexdigest(), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    _write_json(os.path.join(package, "hashes.json"), {"diffscope_hashes": 1, "algorithm": "sha256", "files": files})


def write_package(out, *, name, text_encoder, unet, vae_encoder, vae_decoder, vocab_json, merges_txt,
                  scheduler_config, sample_size, vae_scale_factor, latent_channels, prediction_type, scaling_factor,
                  layers, pad_token="<|endoftext|>", max_length=77, extra_files=None, family="unet", pooled_rows=0,
                  t5=None, index_extra=None):
    """Writes the package into `out` (a temporary folder first, renamed at the end). Modules are traced ones.
    family "unet" writes format_version 1 (the denoiser in unet/); "mmdit" writes format_version 2: the denoiser
    (an AnalyzableTransformer) in transformer/, "family", "denoiser" and "pooled_rows" in model_index.json.
    Re-exporting over an existing package keeps its model card: top-level .md and .png files the export does not
    write itself. `t5` ({"spiece": path, "max_length": T}, format_version 2 only): a T5 text input, whose
    SentencePiece model goes to tokenizer_3/spiece.model and whose T ids follow the max_length CLIP ids.
    `index_extra`: further model_index.json keys of format_version 2 (Flux: text_rows, guidance, guidance_index)."""
    tmp = out.rstrip("/") + ".tmp-export"
    shutil.rmtree(tmp, ignore_errors=True)
    denoiser = "unet" if family == "unet" else "transformer"
    for sub in ("tokenizer", "text_encoder", denoiser, "vae", "scheduler"):
        os.makedirs(os.path.join(tmp, sub))
    index = {"format": "diffscope-torchscript", "format_version": 1 if family == "unet" else 2, "name": name,
             "sample_size": sample_size, "vae_scale_factor": vae_scale_factor, "latent_channels": latent_channels,
             "prediction_type": prediction_type, "max_length": max_length, "pad_token": pad_token}
    if family != "unet":
        index.update({"family": family, "denoiser": denoiser, "pooled_rows": pooled_rows})
    if t5 is not None:
        if family == "unet":
            raise ExportError("a T5 text input needs a format_version 2 package")
        index["t5_max_length"] = int(t5["max_length"])
        os.makedirs(os.path.join(tmp, "tokenizer_3"))
        shutil.copyfile(t5["spiece"], os.path.join(tmp, "tokenizer_3", "spiece.model"))
    if index_extra:
        if family == "unet":
            raise ExportError("model_index.json keys beyond format_version 1's need a format_version 2 package")
        index.update(index_extra)
    _write_json(os.path.join(tmp, "model_index.json"), index)
    shutil.copyfile(vocab_json, os.path.join(tmp, "tokenizer", "vocab.json"))
    shutil.copyfile(merges_txt, os.path.join(tmp, "tokenizer", "merges.txt"))
    torch.jit.save(text_encoder, os.path.join(tmp, "text_encoder", "model.pt"))
    torch.jit.save(unet, os.path.join(tmp, denoiser, "model.pt"))
    _write_json(os.path.join(tmp, denoiser, "layers.json"), layers)
    if vae_encoder is not None:
        torch.jit.save(vae_encoder, os.path.join(tmp, "vae", "encoder.pt"))
    torch.jit.save(vae_decoder, os.path.join(tmp, "vae", "decoder.pt"))
    _write_json(os.path.join(tmp, "vae", "config.json"), {"scaling_factor": float(scaling_factor)})
    _write_json(os.path.join(tmp, "scheduler", "scheduler_config.json"), scheduler_config)
    for rel, content in (extra_files or {}).items():
        path = os.path.join(tmp, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if isinstance(content, (dict, list)):
            _write_json(path, content)
        else:
            with open(path, "w") as f:
                f.write(content)
    if vae_encoder is not None:  # the latent-to-RGB preview (generate --x0-view preview), fitted on this VAE
        from .preview import fit_latent_preview
        _write_json(os.path.join(tmp, "vae", "latent_rgb.json"), fit_latent_preview(
            vae_encoder, vae_decoder, scaling_factor=float(scaling_factor), sample_size=sample_size,
            vae_scale_factor=vae_scale_factor))
    write_hashes(tmp)
    if os.path.isdir(out):
        for entry in os.listdir(out):
            src = os.path.join(out, entry)
            if os.path.isfile(src) and entry.endswith((".md", ".png")) and not os.path.exists(os.path.join(tmp, entry)):
                shutil.copy2(src, os.path.join(tmp, entry))
        shutil.rmtree(out)
    os.replace(tmp, out)


SD15_SCHEDULER_CONFIG = {
    "_class_name": "PNDMScheduler",
    "_diffusers_version": "0.6.0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
    "clip_sample": False,
}
