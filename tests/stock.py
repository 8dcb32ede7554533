"""A LoRA as the diffusers ecosystem saves one: stock `save_lora_weights` from a peft-wrapped UNet;
the layout of adapters on a UNet."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from diffusers import StableDiffusionPipeline
from diffusers.utils import convert_state_dict_to_diffusers
from peft import LoraConfig, get_peft_model_state_dict, set_peft_model_state_dict

from w2w.adapters.layout import AdapterLayout, lora_layer_names


def save_stock_lora(unet, layout: AdapterLayout, vector: np.ndarray, folder: Path, alpha: float,
                    file_alpha: float, diffusers_names: bool, targets: tuple[str, ...] | None = None) -> None:
    """`vector`, a rank-1 model at scaling `alpha`, saved by stock diffusers from `unet` wrapped by peft
    with `file_alpha` (B rescaled so that the model is the same); with `diffusers_names`, keys converted
    as diffusers' training scripts do (lora.down / lora.up). `targets`: the layers peft wraps (default:
    the layout's own, e.g. to_out.0 alone for the default fleet)."""
    # a layer's name after its attention block ("...attn1.to_out.0" -> "to_out.0"): peft matches suffixes
    targets = targets or tuple(dict.fromkeys(re.sub(r"^.*\.attn\d\.", "", name)
                                             for name in lora_layer_names(layout.keys)))
    unet.add_adapter(LoraConfig(r=1, lora_alpha=file_alpha, target_modules=list(targets)))
    state = {k: v.clone() for k, v in layout.unflatten(vector).items()}
    for key in state:
        if key.endswith("lora_B.weight"):
            state[key] *= alpha / file_alpha
    set_peft_model_state_dict(unet, state)
    layers = get_peft_model_state_dict(unet)
    StableDiffusionPipeline.save_lora_weights(
        folder, unet_lora_layers=convert_state_dict_to_diffusers(layers) if diffusers_names else layers,
        unet_lora_adapter_metadata=unet.peft_config["default"].to_dict())
