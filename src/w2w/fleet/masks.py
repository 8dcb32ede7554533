"""Person masks for a loss weighted to the person (`finetune.background_weight` < 1), made once per fleet.

The miniature world knows where the person is in every render (`w2w.world.mask`). The masks of the
world's training renders are drawn again from the same nuisance draws, checked against the stored
renders, pooled to the latent grid and saved beside the shards (`person_masks.safetensors`: `masks`
(N, n, h, w) float32, rows in identity-table order), so every worker trains against the same set.
A folder world of photos has no masks.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
import zarr
from safetensors import safe_open
from safetensors.torch import save_file

from w2w.atomic import atomic_path
from w2w.errors import InputError
from w2w.params import FinetuneParams
from w2w.storage import STREAM_IMAGES
from w2w.world.dataset import identities_from_table, render_identity
from w2w.world.mask import identity_masks
from w2w.world.references import is_folder_world
from w2w.world.workers import map_in_processes

MASKS_FILE = "person_masks.safetensors"


def make_person_masks(world: Path, base: Path, out: Path, p: FinetuneParams, render_seed: int
                      ) -> Path | None:
    """The masks file for this fleet (made on first use); None when the loss is not weighted.

    `render_seed` is the seed the world was rendered with (`synthesize.seed`); the masks are pooled
    to the grid of the base's latent cache."""
    if p.background_weight == 1:
        return None
    path = out / MASKS_FILE
    if path.is_file():
        return path
    if is_folder_world(world):
        raise InputError(f"finetune.background_weight is {p.background_weight:g}: a loss weighted to the "
                         f"person needs the miniature world's person masks, and {world} is a folder of "
                         f"photos; set finetune.background_weight to 1")
    images = zarr.open_group(world / "images.zarr", mode="r")["images"]  # (N, n, S, S, 3)
    latent_hw = tuple(zarr.open_group(base / "latents.zarr", mode="r")["latents"].shape[-2:])
    n, size = images.shape[1], images.shape[2]
    identities = identities_from_table(pd.read_parquet(world / "identities.parquet"))
    if not np.array_equal(render_identity(identities[0], 1, render_seed, STREAM_IMAGES, size)[0],
                          np.asarray(images[0, 0])):
        raise InputError(f"{world}: its renders are not this renderer's at synthesize.seed {render_seed}, "
                         f"so their person masks cannot be drawn again; run `dvc repro synthesize`")
    draw = partial(identity_masks, n=n, seed=render_seed, stream=STREAM_IMAGES, size=size)
    masks = torch.from_numpy(np.stack(map_in_processes(draw, identities, "person masks")))  # (N, n, S, S)
    pooled = F.adaptive_avg_pool2d(masks, latent_hw)                                        # (N, n, h, w)
    with atomic_path(path) as tmp:
        save_file({"masks": pooled.contiguous()}, tmp)
    return path


def load_person_masks(path: str, start: int, stop: int, device: str) -> torch.Tensor | None:
    """Rows start:stop of the masks file, (K, n, h, w), read alone; None without a file."""
    if not path:
        return None
    with safe_open(path, framework="pt") as f:
        return f.get_slice("masks")[start:stop].to(device)
