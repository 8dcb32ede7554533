"""Opening a weight space for the `w2w edit|sample|invert` commands: the stacked fleet with its basis,
or an imported basis alone."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zarr

from w2w.adapters.layout import AdapterLayout
from w2w.adapters.stacked import open_stacked
from w2w.space.basis import Basis


@dataclass
class Space:
    """The stacked fleet plus its basis, as the commands need them."""

    group: zarr.Group | None  # weights.zarr; None for an imported basis
    layout: AdapterLayout
    lora: dict                # r, lora_alpha, target_modules
    basis: Basis

    @classmethod
    def open(cls, weights: Path, basis: Path) -> Space:
        """The fleet's weights.zarr with its basis, or an imported basis alone (its attrs hold the
        layout and LoRA config, and identities are its models' coefficients)."""
        loaded = Basis.load(basis)
        attrs = zarr.open_group(basis, mode="r").attrs
        if "layout" in attrs:  # an imported basis describes its own models; no fleet is read
            return cls(None, AdapterLayout.from_json(attrs["layout"]), dict(attrs["lora_config"]), loaded)
        stacked = open_stacked(weights)
        return cls(stacked.group, stacked.layout, stacked.lora_config, loaded)

    @property
    def scaling(self) -> float:
        """alpha / r: what B @ A is multiplied by."""
        return float(self.lora["lora_alpha"]) / float(self.lora["r"])

    def lora_config(self):
        """The space's LoraConfig, for writing its models as LoRA files (peft: imported only here)."""
        from w2w.adapters.files import lora_config

        lora = self.lora
        return lora_config(int(lora["r"]), float(lora["lora_alpha"]), tuple(lora["target_modules"]))

    def row(self, identity: int) -> np.ndarray:
        if self.group is None:  # an imported basis: identity = model row, rebuilt from its coefficients
            ids = self.basis.train_identity_ids
            if identity not in ids:
                raise ValueError(f"identity {identity} is not among the basis's {len(ids)} models")
            row = int(np.flatnonzero(ids == identity)[0])
            return self.basis.to_weights(self.basis.train_coefficients[row])
        rows = np.flatnonzero(np.asarray(self.group["identity_ids"][:]) == identity)
        if len(rows) != 1:
            raise ValueError(f"identity {identity} is not in the fleet")
        return np.asarray(self.group["weights"][int(rows[0])])
