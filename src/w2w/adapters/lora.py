"""Per-sample LoRA: K identities' rank-r adapters applied in one forward pass of the base UNet.

Each targeted Linear gets A (K, r, in) and B (K, out, r). A batch row i belongs to identity
`owner[i]` and sees y_i = W x_i + (alpha / r) * B[owner[i]] A[owner[i]] x_i, which is exactly peft's
LoRA forward (dropout 0) for that identity alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from w2w.adapters.layout import AdapterLayout

BLOCK_ORDER = ("down_blocks", "mid_block", "up_blocks")  # the reference flatten order


def lora_target_names(unet: nn.Module, targets: tuple[str, ...]) -> list[str]:
    """Names of the targeted Linear layers, ordered down_blocks -> mid_block -> up_blocks.

    A target names the layers whose path ends with it, as peft's `target_modules` does: "to_v", or a
    dotted one such as "to_out.0" (the attention's output Linear). One that names no layer is an error.
    """
    names = [name for name, module in unet.named_modules()
             if isinstance(module, nn.Linear) and name.split(".")[0] in BLOCK_ORDER
             and any(name.endswith(f".{target}") for target in targets)]
    missing = [t for t in targets if not any(name.endswith(f".{t}") for name in names)]
    if missing:
        raise ValueError(f"LoRA target {missing[0]!r} names no Linear layer of the UNet's blocks")

    def key(name: str) -> tuple[int, int]:
        return BLOCK_ORDER.index(name.split(".")[0]), names.index(name)

    return sorted(names, key=key)


def layout_for(unet: nn.Module, targets: tuple[str, ...], rank: int) -> AdapterLayout:
    """The flat layout of rank-`rank` adapters on `unet`'s `targets`: lora_A (r, in) and lora_B
    (out, r) of each targeted layer, in the flatten order, without training one."""
    keys, shapes = [], []
    for name in lora_target_names(unet, targets):
        layer = unet.get_submodule(name)
        keys += [f"{name}.lora_A.weight", f"{name}.lora_B.weight"]
        shapes += [(rank, layer.in_features), (layer.out_features, rank)]
    return AdapterLayout(tuple(keys), tuple(shapes))


def shared_init(layers: list[nn.Linear], rank: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """peft's default init (A: kaiming-uniform a=sqrt(5), B: zeros) drawn once from `seed`."""
    generator = torch.Generator().manual_seed(seed)
    out = []
    for layer in layers:
        bound = math.sqrt(6.0 / ((1 + 5.0) * layer.in_features))  # kaiming_uniform_, a=sqrt(5)
        a = (torch.rand(rank, layer.in_features, generator=generator) * 2 - 1) * bound
        out.append((a, torch.zeros(layer.out_features, rank)))
    return out


class BatchedLoRA(nn.Module):
    """Wraps one Linear with K identities' adapters; `owner` (N,) maps batch rows to identities."""

    def __init__(self, base: nn.Linear, a: torch.Tensor, b: torch.Tensor, scaling: float):
        super().__init__()
        self.base, self.scaling = base, scaling
        self.lora_a = nn.Parameter(a)  # (K, r, in)
        self.lora_b = nn.Parameter(b)  # (K, out, r)
        self.owner: torch.Tensor | None = None
        self.blocks = False  # True when rows are K equal, consecutive per-identity blocks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        if self.blocks:  # no per-row gather of A and B: one bmm per identity block
            k = self.lora_a.shape[0]
            flat = x.reshape(k, -1, x.shape[-1])                                 # (K, N/K*T, in)
            down = torch.bmm(flat, self.lora_a.transpose(1, 2))                  # (K, N/K*T, r)
            return y + self.scaling * torch.bmm(down, self.lora_b.transpose(1, 2)).reshape(y.shape)
        if self.owner is None:
            raise RuntimeError("BatchedLoRA.owner must be set before the forward pass")
        flat = x.reshape(x.shape[0], -1, x.shape[-1])                        # (N, T, in)
        down = torch.bmm(flat, self.lora_a[self.owner].transpose(1, 2))      # (N, T, r)
        up = torch.bmm(down, self.lora_b[self.owner].transpose(1, 2))        # (N, T, out)
        return y + self.scaling * up.reshape(y.shape)


@torch.no_grad()
def load_flat_adapters(wrappers: list[BatchedLoRA], layout, flat: torch.Tensor) -> None:
    """Copy K flat adapters (K, D), in `layout` order (an AdapterLayout), into the wrappers'
    stacked A (K, r, in) and B (K, out, r)."""
    params = [p for w in wrappers for p in (w.lora_a, w.lora_b)]
    for p, offset, size, shape in zip(params, layout.offsets, layout.sizes, layout.shapes, strict=True):
        p.copy_(flat[:, offset:offset + size].reshape(len(flat), *shape))


@contextmanager
def batched_lora(unet: nn.Module, names: list[str], init: list[tuple[torch.Tensor, torch.Tensor]],
                 k: int, alpha: float) -> Iterator[list[BatchedLoRA]]:
    """Temporarily swap the named Linears for BatchedLoRA wrappers of K identities."""
    wrappers = []
    for name, (a, b) in zip(names, init, strict=True):
        parent_name, _, child = name.rpartition(".")
        parent = unet.get_submodule(parent_name)
        rank, base = a.shape[0], getattr(parent, child)
        a, b = a.to(base.weight.device), b.to(base.weight.device)
        wrapper = BatchedLoRA(base, a.expand(k, -1, -1).clone(), b.expand(k, -1, -1).clone(), alpha / rank)
        setattr(parent, child, wrapper)
        wrappers.append((parent, child, wrapper))
    try:
        yield [w for _, _, w in wrappers]
    finally:
        for parent, child, wrapper in wrappers:
            setattr(parent, child, wrapper.base)
