"""Standard LoRA files: writing any flat adapter vector as one, and reading any loaded one back.

Folder layout, as diffusers' own `save_lora_weights` writes it:
    pytorch_lora_weights.safetensors  `unet.`-prefixed peft-named keys; the LoraConfig in the metadata
                                      (`lora_adapter_metadata`, its keys `unet.`-prefixed too)
    adapter_config.json               the same LoraConfig, as PEFT writes it

Load with `pipe.load_lora_weights(folder)`, `pipe.unet.load_lora_adapter(folder, prefix="unet")`,
or peft (`inject_adapter_in_model` with the config, then `set_peft_model_state_dict`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from safetensors.torch import save_file

from w2w.adapters.layout import AdapterLayout, lora_layer_names
from w2w.atomic import atomic_path

LORA_WEIGHTS = "pytorch_lora_weights.safetensors"
UNET_PREFIX = "unet."

if TYPE_CHECKING:  # peft imports much of transformers (about 4 s on 2 cores): only where a config is made
    from peft import LoraConfig


def lora_config(rank: int, alpha: float, targets: tuple[str, ...]) -> LoraConfig:
    from peft import LoraConfig

    return LoraConfig(r=rank, lora_alpha=alpha, target_modules=list(targets), lora_dropout=0.0,
                      init_lora_weights=True)


def config_metadata(config: LoraConfig) -> dict:
    """The LoraConfig as JSON-ready data (sets become sorted lists), as diffusers stores it."""
    return {k: sorted(v) if isinstance(v, set) else v for k, v in config.to_dict().items()}


def write_lora_files(vector: np.ndarray, layout: AdapterLayout, config: LoraConfig, folder: Path) -> None:
    """The LoRA files into an existing folder (not atomic: see export_lora)."""
    weights = {UNET_PREFIX + k: v.contiguous() for k, v in layout.unflatten(vector).items()}
    meta = {UNET_PREFIX + k: v for k, v in config_metadata(config).items()}
    save_file(weights, folder / LORA_WEIGHTS, metadata={
        "format": "pt", "lora_adapter_metadata": json.dumps(meta, indent=2, sort_keys=True)})
    config.save_pretrained(str(folder))


def export_lora(vector: np.ndarray, layout: AdapterLayout, config: LoraConfig, out: str | Path) -> Path:
    """Write `vector` (D,) as a LoRA folder at `out`, atomically; returns the weights file."""
    with atomic_path(out, is_dir=True) as tmp:
        write_lora_files(vector, layout, config, tmp)
    return Path(out) / LORA_WEIGHTS


@torch.no_grad()
def loaded_adapter_vector(unet: torch.nn.Module, adapter: str, layout: AdapterLayout, rank: int,
                          alpha: float) -> np.ndarray:
    """The adapter `adapter` that diffusers or peft attached to `unet`, as a (D,) vector in `layout`
    for LoRAs of `rank` scaled by `alpha / rank`: each layer's B is rescaled from the file's own
    scaling (its alpha, rank and any per-layer patterns, as diffusers read them) to the layout's,
    so that the vector's model equals the loaded one."""
    from peft.tuners.lora import LoraLayer

    adapted = {name for name, module in unet.named_modules()
               if isinstance(module, LoraLayer) and adapter in module.lora_A}
    wanted = lora_layer_names(layout.keys)
    outside = sorted(adapted - set(wanted))
    if outside:
        raise ValueError(f"the LoRA adapts {len(outside)} layers outside the space's layout, e.g. "
                         f"{outside[0]}; the space models only {len(wanted)} layers")
    weights = {}
    for name in wanted:
        if name not in adapted:
            raise ValueError(f"the LoRA does not adapt {name}, which the space's layout needs")
        module = unet.get_submodule(name)
        a, b = module.lora_A[adapter].weight, module.lora_B[adapter].weight
        if a.shape[0] != rank:
            raise ValueError(f"{name}: the LoRA has rank {a.shape[0]}; the space's adapters have rank {rank}")
        weights[f"{name}.lora_A.weight"] = a
        weights[f"{name}.lora_B.weight"] = b * (module.scaling[adapter] / (alpha / rank))
    return layout.flatten(weights)
