"""An identity's references and probes: fresh renders (miniature), held-back photos (folder)."""

import numpy as np
import pandas as pd
import zarr
from folders import make_folder

from w2w.storage import STREAM_EVAL
from w2w.world.dataset import identities_from_table, render_identity
from w2w.world.folder import read_identity_folder
from w2w.world.references import identity_probes, identity_references, is_folder_world


def test_miniature_references_are_fresh_renders_of_the_seeds_stream(micro_world):
    table = pd.read_parquet(micro_world / "identities.parquet").iloc[[3, 0]]
    refs = identity_references(micro_world, table, 3, seed=7)
    want = np.stack([render_identity(i, 3, 7, STREAM_EVAL, 32) for i in identities_from_table(table)])
    assert not is_folder_world(micro_world)
    assert np.array_equal(refs, want)
    assert np.array_equal(identity_probes(micro_world, table, 3, seed=7), want)
    assert not np.array_equal(identity_references(micro_world, table, 3, seed=8), want)
    world_images = zarr.open_group(micro_world / "images.zarr", mode="r")["images"]
    assert not any(np.array_equal(r, w) for r in refs[1] for w in world_images[0])  # not the training renders


def test_folder_references_are_the_held_back_photos(tmp_path):
    p = make_folder(tmp_path).model_copy(update={"references_per_identity": 2, "images_per_identity": 1})
    world = tmp_path / "world"
    world.mkdir()
    read_identity_folder(p, world)
    group = zarr.open_group(world / "images.zarr", mode="r")
    table = pd.read_parquet(world / "identities.parquet").iloc[[2, 0]]
    assert is_folder_world(world)
    refs = identity_references(world, table, 8, seed=0)           # at most what was held back
    assert refs.shape == (2, 2, 32, 32, 3)
    assert np.array_equal(refs, group["references"][:][[2, 0]])
    assert np.array_equal(identity_references(world, table, 1, seed=3), refs[:, :1])  # any seed: the same
    probes = identity_probes(world, table, 8, seed=0)              # the photos its LoRA trains on
    assert np.array_equal(probes, group["images"][:][[2, 0]])
