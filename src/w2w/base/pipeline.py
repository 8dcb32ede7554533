"""Saving, strictly loading and sampling an SD-style pipeline folder (miniature or SD 1.5).

Every later stage only knows "a diffusers StableDiffusionPipeline folder or hub id". Loading goes
through `from_pretrained` of each component with `output_loading_info`, and fails if any weight
would be randomly initialised or any checkpoint weight is left unused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPTextModel


class IncompleteModelError(RuntimeError):
    """A checkpoint that does not fill every weight of its model."""


def assemble_pipeline(vae, text_encoder, tokenizer, unet, scheduler) -> StableDiffusionPipeline:
    return StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)


def _checked(cls, source: str, subfolder: str):
    model, info = cls.from_pretrained(source, subfolder=subfolder, output_loading_info=True)
    missing, unexpected = list(info.get("missing_keys", [])), list(info.get("unexpected_keys", []))
    mismatched = list(info.get("mismatched_keys", []))
    if missing or unexpected or mismatched:
        hint = (" (PEFT `base_layer` keys: the model was saved with an adapter attached; save "
                "adapters with save_lora_adapter instead)") if any("base_layer" in k for k in
                                                                    unexpected) else ""
        raise IncompleteModelError(
            f"{source}/{subfolder}: {len(missing)} weights missing (would be randomly initialised), "
            f"{len(unexpected)} unexpected, {len(mismatched)} mismatched{hint}; first missing: "
            f"{missing[:3]}, first unexpected: {unexpected[:3]}")
    return model


def _pipeline_source(source: str | Path) -> str:
    """The source as a string; a local path that is not a pipeline folder is an error."""
    source = str(source)
    local = Path(source)
    looks_local = local.exists() or source.startswith((".", "/", "~")) or source.count("/") != 1
    if looks_local and not (local / "model_index.json").is_file():
        raise FileNotFoundError(f"{source}: not a diffusers pipeline folder (no model_index.json)")
    return source


def load_vae(source: str | Path) -> AutoencoderKL:
    """Only the VAE of a pipeline folder or hub id."""
    return _checked(AutoencoderKL, _pipeline_source(source), "vae").eval()


def load_pipeline(source: str | Path) -> StableDiffusionPipeline:
    """Load a pipeline folder or hub id; a local path that is not a pipeline folder is an error."""
    source = _pipeline_source(source)
    unet = _checked(UNet2DConditionModel, source, "unet")
    vae = _checked(AutoencoderKL, source, "vae")
    text_encoder = _checked(CLIPTextModel, source, "text_encoder")
    pipe = StableDiffusionPipeline.from_pretrained(
        source, unet=unet, vae=vae, text_encoder=text_encoder, safety_checker=None,
        feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def load_lora(pipe: StableDiffusionPipeline, lora: str | Path, adapter_name: str = "w2w") -> None:
    """Attach a standard LoRA (a .safetensors file, or a folder holding one) to the UNet as
    `adapter_name`, through diffusers' own `load_lora_weights`: the files its `save_lora_weights`
    writes (peft or diffusers key names), and what diffusers converts (kohya and A1111 files)."""
    path = Path(lora)
    if path.is_dir():
        files = sorted(path.glob("*.safetensors"))
        if len(files) != 1:
            raise FileNotFoundError(f"{path}: expected one .safetensors LoRA file, found {len(files)}")
        path = files[0]
    if not path.is_file():
        raise FileNotFoundError(f"{lora}: no such LoRA file")
    try:
        if _bare_unet_keys(path):  # peft's own names without `unet.`: load_lora_weights skips them
            pipe.unet.load_lora_adapter(str(path.parent), weight_name=path.name, prefix=None,
                                        adapter_name=adapter_name)
        else:
            pipe.load_lora_weights(str(path.parent), weight_name=path.name, adapter_name=adapter_name)
    except Exception as error:  # safetensors/peft raise many types for a bad file
        raise ValueError(f"{path}: not a loadable LoRA for this model: {error}") from error
    if adapter_name not in (getattr(pipe.unet, "peft_config", None) or {}):
        raise ValueError(f"{path}: holds no LoRA for the UNet")


def _bare_unet_keys(path: Path) -> bool:
    """Whether every key names a UNet block directly (peft's names, as w2w wrote them before it
    wrote diffusers' format)."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        keys = list(f.keys())
    return bool(keys) and all(k.startswith(("down_blocks.", "mid_block.", "up_blocks.")) for k in keys)


def latent_size(pipe: StableDiffusionPipeline) -> int:
    return int(pipe.unet.config.sample_size)


@torch.no_grad()
def generate(pipe: StableDiffusionPipeline, prompt: str | list[str], n: int, seed: int, steps: int,
             guidance_scale: float, batch: int = 64, progress: bool = False) -> np.ndarray:
    """n images (n, S, S, 3) uint8; the same seed gives the same images."""
    prompts = [prompt] * n if isinstance(prompt, str) else list(prompt)
    generator = torch.Generator().manual_seed(seed)
    size = latent_size(pipe) * pipe.vae_scale_factor
    pipe.set_progress_bar_config(disable=not progress, desc="generate")
    out = []
    for start in range(0, len(prompts), batch):
        images = pipe(prompts[start:start + batch], height=size, width=size, num_inference_steps=steps,
                      guidance_scale=guidance_scale, generator=generator, output_type="np").images
        out.append((np.clip(images, 0, 1) * 255).round().astype(np.uint8))
    return np.concatenate(out)
