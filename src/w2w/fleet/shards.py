"""Adapter shards: one safetensors file per block of identities, and stacking them into the weights
store (w2w.adapters.stacked).

A shard holds every layout key stacked over its identities ((K, r, in), (K, out, r)) plus
`identity_ids` (K,).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import zarr
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from w2w.adapters.layout import AdapterLayout
from w2w.adapters.stacked import write_stacked
from w2w.atomic import atomic_path
from w2w.errors import InputError


class ShardError(InputError):
    """A shard that is unreadable, incomplete or of the wrong layout."""


def write_shard(path: Path, identity_ids: list[int], weights: dict[str, torch.Tensor],
                layout: AdapterLayout) -> None:
    """Write atomically: a killed writer leaves no shard, never half of one."""
    layout.flatten(weights, stacked=True)  # validates keys and shapes before anything is written
    tensors = {k: v.detach().contiguous() for k, v in weights.items()}
    tensors["identity_ids"] = torch.tensor(identity_ids, dtype=torch.int64)
    with atomic_path(path) as tmp:
        save_file(tensors, tmp, metadata={"layout": json.dumps(layout.to_json())})


def read_shard_layout(path: Path) -> dict:
    """The layout JSON a shard was written with."""
    try:
        with safe_open(path, "pt") as f:
            return json.loads((f.metadata() or {})["layout"])
    except (SafetensorError, OSError, KeyError, json.JSONDecodeError) as error:
        raise ShardError(f"{path}: unreadable shard layout ({error})") from error


def read_shard(path: Path, layout: AdapterLayout) -> tuple[np.ndarray, np.ndarray]:
    """(identity_ids (K,), flat weights (K, D)); raises ShardError naming the file and the key."""
    try:
        with safe_open(path, "pt") as f:
            check_keys(path, set(f.keys()), layout)
            ids = f.get_tensor("identity_ids").numpy()
            weights = {k: f.get_tensor(k) for k in layout.keys}
    except (SafetensorError, OSError) as error:
        raise ShardError(f"{path}: unreadable shard ({error})") from error
    if ids.ndim != 1:
        raise ShardError(f"{path}: identity_ids has shape {tuple(ids.shape)}, expected (identities,)")
    for key, shape in zip(layout.keys, layout.shapes, strict=True):
        if tuple(weights[key].shape) != (len(ids), *shape):
            raise ShardError(f"{path}: key {key} has shape {tuple(weights[key].shape)}, expected "
                             f"{(len(ids), *shape)} for its {len(ids)} identities")
    return ids, layout.flatten(weights, stacked=True)


def check_keys(path: Path, keys: set[str], layout: AdapterLayout) -> None:
    """The shard's keys are the layout's plus identity_ids; names the first missing or extra key."""
    missing = [k for k in ("identity_ids", *layout.keys) if k not in keys]
    extra = sorted(keys - {"identity_ids", *layout.keys})
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise ShardError(f"{path}: key {missing[0]} is missing{more}")
    if extra:
        raise ShardError(f"{path}: unexpected key {extra[0]} (not in the adapter layout)")


def stack_shards(paths: list[Path], identity_ids: np.ndarray, split: np.ndarray, layout: AdapterLayout,
                 config: dict, out: Path, block: int) -> zarr.Array:
    """Stack shards into out (a Zarr group) with rows in `identity_ids` order; refuses NaN/Inf."""
    row_of = {int(i): r for r, i in enumerate(identity_ids)}
    matrix = np.full((len(identity_ids), layout.dim), np.nan, dtype=np.float32)
    seen = np.zeros(len(identity_ids), dtype=bool)
    for path in sorted(paths):
        ids, flat = read_shard(path, layout)
        unknown = [int(i) for i in ids if int(i) not in row_of]
        if unknown:
            raise ShardError(f"{path}: identities {unknown[:10]} are not in the world")
        rows = [row_of[int(i)] for i in ids]
        repeated = [int(i) for i, r in zip(ids, rows, strict=True) if seen[r]]
        if repeated or len(set(rows)) != len(rows):
            raise ShardError(f"{path}: identities {repeated[:10]} are in an earlier shard too"
                             if repeated else f"{path}: an identity appears twice in this shard")
        bad = ~np.isfinite(flat).all(axis=1)
        if bad.any():
            raise ShardError(f"{path}: non-finite adapter weights (NaN/Inf) for identities "
                             f"{ids[bad].tolist()}")
        matrix[rows], seen[rows] = flat, True
    if not seen.all():
        raise ShardError(f"no shard holds identities {identity_ids[~seen][:10].tolist()}")
    return write_stacked(matrix, identity_ids, split, layout, config, out, block)
