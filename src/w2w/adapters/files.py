"""Writing any flat adapter vector as a standard diffusers/PEFT LoRA that stock diffusers loads.

Folder layout:
    pytorch_lora_weights.safetensors  peft-named keys (no `unet.` prefix), LoraConfig in the metadata
    adapter_config.json               the same LoraConfig, as PEFT writes it

Load with `unet.load_lora_adapter(folder, weight_name="pytorch_lora_weights.safetensors", prefix=None)`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from peft import LoraConfig
from safetensors.torch import save_file

from w2w.adapters.layout import AdapterLayout
from w2w.atomic import atomic_path

LORA_WEIGHTS = "pytorch_lora_weights.safetensors"


def lora_config(rank: int, alpha: float, targets: tuple[str, ...]) -> LoraConfig:
    return LoraConfig(r=rank, lora_alpha=alpha, target_modules=list(targets), lora_dropout=0.0,
                      init_lora_weights=True)


def config_metadata(config: LoraConfig) -> dict:
    """The LoraConfig as JSON-ready data (sets become sorted lists), as diffusers stores it."""
    return {k: sorted(v) if isinstance(v, set) else v for k, v in config.to_dict().items()}


def write_lora_files(vector: np.ndarray, layout: AdapterLayout, config: LoraConfig, folder: Path) -> None:
    """The LoRA files into an existing folder (not atomic: see export_lora)."""
    weights = {k: v.contiguous() for k, v in layout.unflatten(vector).items()}
    meta = config_metadata(config)
    save_file(weights, folder / LORA_WEIGHTS, metadata={
        "format": "pt", "lora_adapter_metadata": json.dumps(meta, indent=2, sort_keys=True)})
    config.save_pretrained(str(folder))


def export_lora(vector: np.ndarray, layout: AdapterLayout, config: LoraConfig, out: str | Path) -> Path:
    """Write `vector` (D,) as a LoRA folder at `out`, atomically; returns the weights file."""
    with atomic_path(out, is_dir=True) as tmp:
        write_lora_files(vector, layout, config, tmp)
    return Path(out) / LORA_WEIGHTS
