"""Where the person is in a render: the miniature world knows it exactly, per image.

A person mask is the visible head (face, hair, ears, neck, beard, glasses), posed as the render
poses it; background and clothes are not the person. It lets the fleet weight its loss to the
person (`finetune.background_weight`), so that an adapter spends less of itself on the scene,
which is drawn afresh for every render. Real photos have no such mask.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import zarr
from PIL import Image

from w2w.errors import InputError
from w2w.storage import STREAM_EVAL
from w2w.world.dataset import identities_from_table
from w2w.world.identity import Identity
from w2w.world.references import is_folder_world
from w2w.world.render import SUPERSAMPLE, Nuisance, person_layer, sample_nuisance

TRANSPARENT = (0, 0, 0, 0)


def person_mask(identity: Identity, nuisance: Nuisance, size: int = 32) -> np.ndarray:
    """(size, size) float32 in [0, 1]: the fraction of each pixel that shows the person.

    The person is drawn as `render_face` draws it, but with transparent clothes: Pillow replaces
    pixels rather than blending them, so the shoulders cut the hair behind them exactly as opaque
    clothes would, and everything drawn after them (neck, ears, face) covers them again."""
    bare = dataclasses.replace(nuisance, clothes=TRANSPARENT)
    alpha = person_layer(identity, bare, size * SUPERSAMPLE).getchannel("A")
    small = alpha.resize((size, size), Image.Resampling.BOX)  # the render's own downsampling
    return np.asarray(small, dtype=np.float32) / 255.0


def identity_masks(identity: Identity, n: int, seed: int, stream: int, size: int) -> np.ndarray:
    """(n, size, size) person masks of `render_identity(identity, n, seed, stream, size)`'s renders:
    the same nuisance draws, in the same order."""
    rng = np.random.default_rng([seed, identity.identity_id, stream])
    return np.stack([person_mask(identity, sample_nuisance(rng), size) for _ in range(n)])


def identity_probe_masks(world: Path, table: pd.DataFrame, n: int, seed: int) -> np.ndarray:
    """(M, n, S, S) person masks of `w2w.world.references.identity_probes(world, table, n, seed)`
    in the miniature world; a folder of photos has none (InputError)."""
    if is_folder_world(world):
        raise InputError(f"{world}: a folder of photos has no person masks; "
                         f"set finetune.background_weight to 1")
    size = int(zarr.open_group(world / "images.zarr", mode="r").attrs["image_size"])
    return np.stack([identity_masks(i, n, seed, STREAM_EVAL, size) for i in identities_from_table(table)])
