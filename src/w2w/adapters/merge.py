"""Merging an adapter into the base UNet: the project's own inference path for one model."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from w2w.adapters.layout import lora_layer_names


@torch.no_grad()
def merge_lora(unet: torch.nn.Module, weights: dict[str, torch.Tensor], scaling: float) -> None:
    """W <- W + scaling * B @ A on every targeted Linear."""
    for name in lora_layer_names(weights):
        delta = weights[f"{name}.lora_B.weight"] @ weights[f"{name}.lora_A.weight"]
        unet.get_submodule(name).weight += scaling * delta


@contextmanager
def merged(unet: torch.nn.Module, weights: dict[str, torch.Tensor], scaling: float) -> Iterator[None]:
    """The UNet with one adapter merged in; the original weights are restored exactly on exit."""
    names = lora_layer_names(weights)
    saved = {n: unet.get_submodule(n).weight.detach().clone() for n in names}
    merge_lora(unet, weights, scaling)
    try:
        yield
    finally:
        with torch.no_grad():
            for n, w in saved.items():
                unet.get_submodule(n).weight.copy_(w)
