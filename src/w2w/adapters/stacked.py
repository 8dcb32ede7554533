"""The weights store, weights.zarr: every identity's flat adapter as one row.

A Zarr v3 group: `weights` (N, D) float32, whose attrs hold the adapter layout and LoRA config, with
`identity_ids` (N,) int64 and `heldout` (N,) bool beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zarr

from w2w.adapters.layout import AdapterLayout
from w2w.atomic import atomic_path
from w2w.errors import InputError

BLOCKS_PER_SHARD = 8  # Zarr shard = this many row chunks: few files, row-block reads
# Uncompressed: trained adapters are near-random float32 (zstd with bitshuffle kept 0.87 of the
# bytes), and at the reference's shape decoding cost out-of-core PCA more CPU than the disk time it
# saved (docs/benchmarks.md). Stores written with a compressor still read the same.
WEIGHTS_COMPRESSORS = None


def create_weights_array(group: zarr.Group, shape: tuple[int, int], block: int,
                         compressors=WEIGHTS_COMPRESSORS) -> zarr.Array:
    """The empty `weights` (N, D) float32 array of a store: chunks of `block` rows, sharded."""
    return group.create_array("weights", shape=shape, dtype="float32", chunks=(block, shape[1]),
                              shards=(block * BLOCKS_PER_SHARD, shape[1]), compressors=compressors)


def write_stacked(matrix: np.ndarray, identity_ids: np.ndarray, split: np.ndarray, layout: AdapterLayout,
                  config: dict, out: Path, block: int) -> zarr.Array:
    """The store at `out`, atomically, chunked by `block` rows; returns its weights array."""
    with atomic_path(out, is_dir=True) as tmp:
        group = zarr.open_group(tmp, mode="w", zarr_format=3)
        array = create_weights_array(group, matrix.shape, block)
        array[:] = matrix
        array.attrs.update({"layout": layout.to_json(), "lora_config": config,
                            "rows": "identities, in the order of the identity_ids array"})
        group.create_array("identity_ids", data=np.asarray(identity_ids, dtype=np.int64))
        group.create_array("heldout", data=np.asarray(split) == "heldout")  # bool: portable in v3
    return zarr.open_group(out, mode="r")["weights"]


@dataclass
class Stacked:
    """A weights.zarr opened for reading: the group, its (N, D) array, and what its attrs describe."""

    group: zarr.Group
    weights: zarr.Array
    layout: AdapterLayout
    lora_config: dict  # r, lora_alpha, target_modules

    @property
    def scaling(self) -> float:
        return self.lora_config["lora_alpha"] / self.lora_config["r"]


def open_stacked(path: Path) -> Stacked:
    """The one reader of stack_shards' output; a clear error when `path` is not one."""
    if not (Path(path) / "weights" / "zarr.json").is_file():
        raise InputError(f"{path}: not a weights.zarr (no weights array; run the stack stage)")
    group = zarr.open_group(path, mode="r")
    weights = group["weights"]
    return Stacked(group, weights, AdapterLayout.from_json(weights.attrs["layout"]),
                   dict(weights.attrs["lora_config"]))
