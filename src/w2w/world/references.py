"""An identity's references: the images the evaluation compares a model's samples with.

The miniature world renders fresh ones, from a stream that neither the fleet nor the judge trained
on, as many as asked and from any seed. A folder of real photos cannot: it holds back
`synthesize.references_per_identity` photos of each identity when it is read
(`images.zarr/references`), and those are the references, whatever the seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import zarr

from w2w.storage import STREAM_EVAL
from w2w.world.dataset import identities_from_table, render_identities


def fresh_renders(table: pd.DataFrame, n: int, seed: int, size: int) -> np.ndarray:
    """Fresh renders (M, n, S, S, 3) of the table's miniature identities."""
    return render_identities(identities_from_table(table), n, seed, STREAM_EVAL, size)


def is_folder_world(world: Path) -> bool:
    return zarr.open_group(world / "images.zarr", mode="r").attrs.get("source") == "folder"


def identity_references(world: Path, table: pd.DataFrame, n: int, seed: int) -> np.ndarray:
    """(M, k, S, S, 3) references of the table's identities (rows of world/identities.parquet):
    k = n fresh renders of the seed's stream (miniature), or the first min(n, held back) photos of
    each identity (folder)."""
    return _images(world, table, n, seed, "references")


def identity_probes(world: Path, table: pd.DataFrame, n: int, seed: int) -> np.ndarray:
    """(M, k, S, S, 3) other images of the same identities, none of them a reference: n fresh
    renders of the seed's stream (miniature), or the first min(n, images) photos each identity's
    LoRA trains on (folder)."""
    return _images(world, table, n, seed, "images")


def _images(world: Path, table: pd.DataFrame, n: int, seed: int, stored: str) -> np.ndarray:
    """Fresh renders (miniature), or up to n of a folder world's stored photos `stored` per identity."""
    group = zarr.open_group(world / "images.zarr", mode="r")
    if group.attrs.get("source") != "folder":
        return fresh_renders(table, n, seed, int(group.attrs["image_size"]))
    photos = group[stored]  # (N, r, S, S, 3); a folder world's identity ids are its row numbers
    rows = table["identity_id"].to_numpy(np.int64)
    return np.asarray(photos.get_orthogonal_selection((rows, slice(0, min(n, photos.shape[1])))))
