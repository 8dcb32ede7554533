"""Sampling many adapter models at once.

Every row of a sampling batch carries its own model: the base UNet's targeted Linears are wrapped
with `BatchedLoRA` in per-row mode, so M models x n samples run as one batch instead of M merges.
Sample j of every model starts from the same initial noise, so an edited model and its unedited
original differ only by the edit.
"""

from __future__ import annotations

import numpy as np
import torch
from diffusers import StableDiffusionPipeline
from tqdm import tqdm

from w2w.adapters.layout import AdapterLayout, lora_layer_names
from w2w.adapters.lora import batched_lora, load_flat_adapters, shared_init
from w2w.base.pipeline import latent_size


def initial_noise(pipe: StableDiffusionPipeline, samples: int, seed: int) -> torch.Tensor:
    """(samples, C, h, w): noise for sample j, shared by every model."""
    side = latent_size(pipe)
    shape = (pipe.unet.config.in_channels, side, side)
    return torch.stack([torch.randn(shape, generator=torch.Generator().manual_seed(seed * 1000 + j))
                        for j in range(samples)])


@torch.no_grad()
def render_models(pipe: StableDiffusionPipeline, rows: np.ndarray, layout: AdapterLayout, scaling: float,
                  prompts: str | list[str], samples: int, seed: int, steps: int, guidance: float,
                  negative_prompts: list[str] | None = None, batch: int = 64,
                  desc: str = "render", delayed_from: np.ndarray | None = None, delay: int = 0,
                  base_unconditional: bool = False) -> np.ndarray:
    """Samples (M, samples, S, S, 3) uint8 of M adapter models (M, D); prompts per model or one.

    Delayed injection: with `delayed_from` (M, D), model i samples with delayed_from[i] while the
    timestep is above `delay` and with rows[i] from there on (as `w2w.space.delayed`).
    `base_unconditional`: classifier-free guidance's unconditional branch runs the base UNet, not
    the model, so guidance pushes each sample away from the base's person rather than from what
    the model draws for the empty prompt (the usual guidance runs both branches through the model)."""
    m = len(rows)
    prompts = [prompts] * m if isinstance(prompts, str) else list(prompts)
    negatives = negative_prompts or [""] * m
    if len(prompts) != m or len(negatives) != m:
        raise ValueError(f"{m} models need {m} prompts, got {len(prompts)} and {len(negatives)}")
    names = lora_layer_names(layout.keys)
    rank = layout.shapes[0][0]
    noise = initial_noise(pipe, samples, seed)
    per_batch = max(1, batch // samples)  # models per pipeline call
    slots = per_batch + 1 if base_unconditional else per_batch  # the last slot: a zero adapter, the base
    edited_throughout = delayed_from is None or delay >= pipe.scheduler.config.num_train_timesteps
    out = []
    with batched_lora(pipe.unet, names, shared_init([pipe.unet.get_submodule(n) for n in names], rank, 0),
                      slots, scaling * rank) as wrappers:
        for start in tqdm(range(0, m, per_batch), desc=desc, unit="batch", leave=False):
            stop = min(start + per_batch, m)
            chunk, first = (np.zeros((slots, layout.dim), dtype=np.float32) for _ in range(2))
            chunk[: stop - start] = rows[start:stop]
            first[: stop - start] = (rows if edited_throughout else delayed_from)[start:stop]
            load_flat_adapters(wrappers, layout, torch.from_numpy(first))

            def switch(pipeline, step: int, timestep, kwargs: dict, chunk=chunk) -> dict:
                schedule = pipeline.scheduler.timesteps
                following = schedule[step + 1] if step + 1 < len(schedule) else -1
                if delayed_from is not None and following <= delay < timestep:
                    load_flat_adapters(wrappers, layout, torch.from_numpy(chunk))
                return kwargs

            owner = torch.arange(stop - start).repeat_interleave(samples)            # (B,)
            unconditional = torch.full_like(owner, per_batch) if base_unconditional else owner
            for w in wrappers:
                w.owner = torch.cat([unconditional, owner]) if guidance > 1 else owner  # uncond, cond halves
            images = pipe([p for p in prompts[start:stop] for _ in range(samples)],
                          negative_prompt=[p for p in negatives[start:stop] for _ in range(samples)],
                          latents=noise.repeat(stop - start, 1, 1, 1), num_inference_steps=steps,
                          guidance_scale=guidance, output_type="np", callback_on_step_end=switch).images
            out.append((np.clip(images, 0, 1) * 255).round().astype(np.uint8))
    images = np.concatenate(out)
    return images.reshape(m, samples, *images.shape[1:])
