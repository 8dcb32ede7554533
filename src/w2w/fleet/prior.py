"""Class-prior images for DreamBooth-style prior preservation, made once per fleet by the base model.

The reference generates 200 "person" images with the base model and adds their denoising loss
(weight 1.0) while fine-tuning, so the adapter keeps the class prior. Here the images are generated
in latent space and saved beside the shards (`class_prior.safetensors`: `latents` (P, C, h, w) and
the class prompt's `context` (L, D)), so every worker trains against the same set.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from w2w.atomic import atomic_path
from w2w.params import FinetuneParams

PRIOR_FILE = "class_prior.safetensors"
SAMPLER_STEPS, GUIDANCE = 25, 7.0  # the base model's evaluated sampler settings


def make_class_prior(base: Path, out: Path, p: FinetuneParams) -> Path | None:
    """The prior file for this fleet (generated on first use); None when prior_weight is 0."""
    if p.prior_weight == 0:
        return None
    path = out / PRIOR_FILE
    if path.is_file():
        return path
    from w2w.base.model import encode_prompts
    from w2w.base.pipeline import load_pipeline

    pipe = load_pipeline(base / "model")
    generator = torch.Generator().manual_seed(p.seed)
    with torch.no_grad():
        latents = pipe([p.class_prompt] * p.class_images, num_inference_steps=SAMPLER_STEPS,
                       guidance_scale=GUIDANCE, generator=generator, output_type="latent").images
        context = encode_prompts(pipe.text_encoder, pipe.tokenizer, [p.class_prompt])[0]
    with atomic_path(path) as tmp:
        save_file({"latents": latents.contiguous(), "context": context.contiguous()}, tmp)
    return path


def load_class_prior(path: str, device: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    if not path:
        return None
    tensors = load_file(path)
    return tensors["latents"].to(device), tensors["context"].to(device)
