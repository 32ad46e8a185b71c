#!/usr/bin/python3
"""One timed diffusers StableDiffusionPipeline (or StableDiffusionXLPipeline) run, for bench/bench_vs_diffusers.sh: prints one JSON line with the
model load time, the denoising loop (from the first step's end to the last's, over steps - 1 steps, so the text
encoder and the first step's warm-up stay out), the whole run's wall time, the process's peak RSS and its minor page
faults. --capture gives every attn2 module a processor that keeps its attention probabilities (what diffscope's
capture records), so the two tools can be compared with capture on as well.

    PYTHONPATH=<diffusers 0.31 + transformers> /usr/bin/python3 scripts/export/diffusers_timed_run.py \\
        --model FOLDER --prompt "..." --steps 10 --guidance 7.5 --seed 3 --threads 2 --size 256 [--capture]
"""
import argparse
import json
import os
import resource
import sys
import time

T0 = time.perf_counter()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompt", default="a photo of a red circle and a blue square")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--guidance", type=float, default=7.5)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--capture", action="store_true")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (scripts/gpu/check.py)")
    ap.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float32",
                    help="the pipeline's weights and arithmetic (float16 on CUDA)")
    a = ap.parse_args()

    import torch
    torch.set_num_threads(a.threads)  # set on both sides: torch in Python may default to fewer threads here
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from check_diffusers_export import avoid_baddbmm_nan
    from diffusers import DDIMScheduler, StableDiffusionPipeline, StableDiffusionXLPipeline
    from diffusers.models.attention_processor import AttnProcessor
    avoid_baddbmm_nan()

    t_load = time.perf_counter()
    # the folder's own pipeline class: StableDiffusionPipeline (SD 1.x/2.x) or StableDiffusionXLPipeline
    with open(os.path.join(a.model, "model_index.json")) as f:
        xl = json.load(f).get("_class_name") == "StableDiffusionXLPipeline"
    extra = {} if xl else dict(safety_checker=None, requires_safety_checker=False)
    pipe = (StableDiffusionXLPipeline if xl else StableDiffusionPipeline).from_pretrained(
        a.model, torch_dtype=getattr(torch, a.dtype), **extra).to(a.device)
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    load_s = time.perf_counter() - t_load

    kept = []
    if a.capture:
        class Keep(AttnProcessor):
            def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None):
                q = attn.head_to_batch_dim(attn.to_q(hidden_states))
                k = attn.head_to_batch_dim(attn.to_k(encoder_hidden_states))
                v = attn.head_to_batch_dim(attn.to_v(encoder_hidden_states))
                probs = attn.get_attention_scores(q, k, None)
                kept.append(probs.mean(0).detach())  # what a capture keeps: the probabilities, head-averaged
                out = attn.batch_to_head_dim(torch.bmm(probs, v))
                return attn.to_out[1](attn.to_out[0](out))
        pipe.unet.set_attn_processor({name: Keep() if name.endswith("attn2.processor") else AttnProcessor()
                                      for name in pipe.unet.attn_processors})

    ends = []
    sync = torch.cuda.synchronize if a.device.startswith("cuda") else (lambda: None)

    def on_step(p, i, t, kw):
        sync()  # a GPU step has ended when its kernels have, not when Python queued them
        ends.append(time.perf_counter())
        kept.clear()
        return kw

    t_run = time.perf_counter()
    with torch.no_grad():
        pipe(a.prompt, num_inference_steps=a.steps, guidance_scale=a.guidance, height=a.size, width=a.size,
             generator=torch.Generator("cpu").manual_seed(a.seed), output_type="np", callback_on_step_end=on_step)
    run_s = time.perf_counter() - t_run
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"tool": "diffusers", "capture": a.capture, "load_s": load_s,
                      "per_step_s": (ends[-1] - ends[0]) / max(1, len(ends) - 1), "run_s": run_s,
                      "wall_s": time.perf_counter() - T0, "peak_rss_gib": ru.ru_maxrss / 2 ** 20,
                      "minor_faults": ru.ru_minflt}))


if __name__ == "__main__":
    main()
