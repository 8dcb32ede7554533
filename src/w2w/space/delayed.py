"""Delayed injection: sample with the original identity's weights while t > T, the edited ones after.

Coarse structure (pose, face shape) is laid down at high noise levels, so keeping the original
weights there and switching to the edited ones for t <= T preserves more of the identity. (The
reference uses T about 700 for global edits and 400-700 for fine ones.) A LoRA file cannot encode
the switch, so this is a way of sampling, not a model to export.
"""

from __future__ import annotations

import numpy as np
import torch
from diffusers import StableDiffusionPipeline

from w2w.adapters.layout import AdapterLayout, lora_layer_names
from w2w.adapters.merge import merge_lora, merged
from w2w.adapters.render import render_models
from w2w.base.pipeline import generate


def generate_delayed(pipe: StableDiffusionPipeline, layout: AdapterLayout, scaling: float,
                     original: np.ndarray, edited: np.ndarray, switch_timestep: int, prompt: str, n: int,
                     seed: int, steps: int, guidance: float) -> np.ndarray:
    """n images (n, S, S, 3) uint8; the same seed gives the same images. `switch_timestep` below
    every sampled timestep keeps the original throughout; at or above the schedule's length
    (1000) it is the edited model throughout."""
    unet = pipe.unet
    names = lora_layer_names(layout.keys)
    base = {name: unet.get_submodule(name).weight.detach().clone() for name in names}

    def use(vector: np.ndarray) -> None:
        with torch.no_grad():
            for name, weight in base.items():
                unet.get_submodule(name).weight.copy_(weight)
        merge_lora(unet, layout.unflatten(vector), scaling)

    def switch(pipeline, step: int, timestep, kwargs: dict) -> dict:
        schedule = pipeline.scheduler.timesteps
        following = schedule[step + 1] if step + 1 < len(schedule) else -1
        if following <= switch_timestep < timestep:
            use(edited)
        return kwargs

    size = int(unet.config.sample_size) * pipe.vae_scale_factor
    use(edited if switch_timestep >= pipe.scheduler.config.num_train_timesteps else original)
    try:
        with torch.no_grad():
            images = pipe([prompt] * n, height=size, width=size, num_inference_steps=steps,
                          guidance_scale=guidance, generator=torch.Generator().manual_seed(seed),
                          output_type="np", callback_on_step_end=switch).images
    finally:
        with torch.no_grad():
            for name, weight in base.items():
                unet.get_submodule(name).weight.copy_(weight)
    return (np.clip(images, 0, 1) * 255).round().astype(np.uint8)


def model_samples(pipe: StableDiffusionPipeline, layout: AdapterLayout, scaling: float, vector: np.ndarray,
                  prompt: str, n: int, seed: int, steps: int, guidance: float,
                  start: np.ndarray | None = None, delay: int | None = None,
                  base_unconditional: bool = False) -> np.ndarray:
    """n samples (n, S, S, 3) uint8 of the model `vector`; with `start` and `delay` T, delayed
    injection: `start` for timesteps above T, then `vector`. `base_unconditional`: guidance's
    unconditional branch runs the base without the adapter (`w2w.adapters.render.render_models`,
    whose initial noises these samples then start from)."""
    delayed = start is not None and delay is not None
    if base_unconditional:
        return render_models(pipe, vector[None], layout, scaling, prompt, n, seed, steps, guidance,
                             desc="preview", delayed_from=start[None] if delayed else None,
                             delay=delay if delayed else 0, base_unconditional=True)[0]
    if delayed:
        return generate_delayed(pipe, layout, scaling, start, vector, delay, prompt, n, seed, steps, guidance)
    with merged(pipe.unet, layout.unflatten(vector), scaling):
        return generate(pipe, prompt, n, seed, steps, guidance)
