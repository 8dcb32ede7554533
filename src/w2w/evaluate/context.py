"""What every evaluation stage opens: the world's table, the stacked fleet, the base and the judge."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import zarr
from diffusers import StableDiffusionPipeline

from w2w.adapters.layout import AdapterLayout
from w2w.adapters.stacked import open_stacked
from w2w.base.pipeline import load_pipeline
from w2w.errors import InputError
from w2w.evaluate.stats import sample_rows
from w2w.judge.api import Judge


@dataclass
class Context:
    """The evaluation context: what every evaluation stage reads, opened once."""

    table: pd.DataFrame     # identities.parquet, rows in fleet order
    weights: zarr.Array | None  # (N, D) adapters; None: unstacked (open_unstacked)
    heldout: np.ndarray     # (N,) bool
    layout: AdapterLayout | None
    scaling: float          # lora_alpha / r
    pipe: StableDiffusionPipeline
    judge: Judge
    images: zarr.Array      # (N, n, S, S, 3) the world's renders, fleet order
    ood: zarr.Array         # (held-out N, m, S, S, 3) "paintings" of the held-out identities, in order
    world: Path             # the world folder (w2w.world.references reads an identity's references there)

    @property
    def image_size(self) -> int:
        return int(self.images.shape[2])

    @classmethod
    def open(cls, world: Path, weights_zarr: Path, base: Path, judge: Path) -> Context:
        stacked = open_stacked(weights_zarr)
        unstacked = cls.open_unstacked(world, base, judge)
        ids = np.asarray(stacked.group["identity_ids"][:])
        if not np.array_equal(unstacked.table["identity_id"].to_numpy(), ids):
            raise InputError(f"{weights_zarr}: identities differ from {world}; rerun the stack stage")
        return replace(unstacked, weights=stacked.weights, heldout=np.asarray(stacked.group["heldout"][:]),
                       layout=stacked.layout, scaling=stacked.scaling)

    @classmethod
    def open_unstacked(cls, world: Path, base: Path, judge: Path) -> Context:
        """The world, base and judge without a stacked fleet (studies that train their own adapters):
        no weights or layout, and a NaN scaling, so that sampling an adapter by mistake gives NaNs."""
        table = pd.read_parquet(world / "identities.parquet")  # fleet order
        pictures = zarr.open_group(world / "images.zarr", mode="r")
        return cls(table, None, (table["split"] == "heldout").to_numpy(), None, float("nan"),
                   load_pipeline(base / "model"), Judge.load(judge), pictures["images"], pictures["ood"],
                   world)

    def rows(self, heldout: bool, n: int, seed: int = 0, start: int = 0) -> np.ndarray:
        """Up to n held-out (or train) rows, a seeded random sample from the order's start-th on
        (see `sample_rows`)."""
        return sample_rows(self.heldout, heldout, n, seed, start)

    def adapters(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.weights.get_orthogonal_selection((rows, slice(None))))  # (M, D)

    def judge_columns(self, attributes: list[str]) -> list[int]:
        return [self.judge.attribute_names.index(a) for a in attributes]
