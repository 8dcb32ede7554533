"""The flat layout of an adapter: which slice of the D-vector each LoRA matrix occupies.

Flatten order (the reference's): targeted layers ordered down_blocks -> mid_block -> up_blocks
(module order within each), and per layer `lora_A.weight` (r, in) before `lora_B.weight` (out, r),
each matrix row-major. For rank r a Linear(in, out) contributes r*in + r*out numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def lora_layer_names(keys) -> list[str]:
    """The targeted Linear layers of peft-named adapter keys, in key order."""
    return [key[: -len(".lora_A.weight")] for key in keys if key.endswith(".lora_A.weight")]


@dataclass(frozen=True)
class AdapterLayout:
    keys: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]

    @classmethod
    def from_weights(cls, weights: dict[str, torch.Tensor], stacked: bool = False) -> AdapterLayout:
        """From a peft-named state dict in flatten order; `stacked`: dim 0 indexes identities."""
        return cls(tuple(weights), tuple(tuple(w.shape[1:] if stacked else w.shape)
                                         for w in weights.values()))

    @property
    def sizes(self) -> list[int]:
        return [int(np.prod(s)) for s in self.shapes]

    @property
    def offsets(self) -> list[int]:
        return [0, *np.cumsum(self.sizes)[:-1].tolist()]

    @property
    def dim(self) -> int:
        return sum(self.sizes)

    def flatten(self, weights: dict[str, torch.Tensor], stacked: bool = False) -> np.ndarray:
        """(D,) float32, or (K, D) when `stacked`."""
        if list(weights) != list(self.keys):
            raise ValueError(f"adapter keys differ from the layout: first extra/missing "
                             f"{sorted(set(weights) ^ set(self.keys))[:3]}")
        parts = []
        for key, shape in zip(self.keys, self.shapes, strict=True):
            w = weights[key].detach().cpu().float()
            if tuple(w.shape[1:] if stacked else w.shape) != shape:
                raise ValueError(f"{key}: shape {tuple(w.shape)} does not match the layout {shape}")
            parts.append(w.flatten(1) if stacked else w.flatten())
        return torch.cat(parts, dim=-1).numpy().astype(np.float32)

    def unflatten(self, vector: np.ndarray) -> dict[str, torch.Tensor]:
        """One (D,) vector back to the peft-named state dict."""
        vector = np.asarray(vector, dtype=np.float32)
        if vector.shape != (self.dim,):
            raise ValueError(f"expected a vector of {self.dim} numbers, got shape {vector.shape}")
        return {key: torch.from_numpy(vector[o:o + n].copy()).reshape(shape)
                for key, shape, o, n in zip(self.keys, self.shapes, self.offsets, self.sizes, strict=True)}

    def to_json(self) -> dict:
        return {"keys": list(self.keys), "shapes": [list(s) for s in self.shapes],
                "offsets": self.offsets, "dim": self.dim,
                "order": "down_blocks -> mid_block -> up_blocks; lora_A before lora_B; row-major"}

    @classmethod
    def from_json(cls, data: dict) -> AdapterLayout:
        return cls(tuple(data["keys"]), tuple(tuple(s) for s in data["shapes"]))
