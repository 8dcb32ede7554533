"""Person masks: exactly where a render shows the person, for the same nuisance draws."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from folders import make_folder

from w2w.errors import InputError
from w2w.storage import STREAM_EVAL
from w2w.world.dataset import identities_from_table, render_identity
from w2w.world.folder import read_identity_folder
from w2w.world.identity import sample_identity
from w2w.world.mask import identity_masks, identity_probe_masks, person_mask
from w2w.world.render import render_face, sample_nuisance


@pytest.mark.parametrize("identity_id", [0, 2, 5, 7])  # women and men, long and short hair
def test_the_mask_is_where_a_new_scene_leaves_the_render_unchanged(identity_id):
    identity = sample_identity(identity_id, 0)
    nuisance = dataclasses.replace(sample_nuisance(np.random.default_rng(identity_id)), light_strength=0.0)
    mask = person_mask(identity, nuisance)
    assert mask.shape == (32, 32) and mask.min() == 0.0 and mask.max() == 1.0
    def scene(rgb: tuple[int, int, int]) -> np.ndarray:
        return render_face(identity, dataclasses.replace(nuisance, background_top=rgb, background_bottom=rgb,
                                                         clothes=rgb))

    dark, light = scene((0, 0, 0)), scene((255, 255, 255))
    changed = np.abs(dark.astype(int) - light.astype(int)).max(-1) > 0
    assert not changed[mask == 1].any()      # the person is not the scene
    assert changed[mask == 0].all()          # and the rest is
    assert 0.1 < mask.mean() < 0.6


def test_identity_masks_follow_the_renders_nuisance_draws():
    identity = sample_identity(3, 0)
    renders = render_identity(identity, 4, seed=0, stream=1, size=32)
    masks = identity_masks(identity, 4, seed=0, stream=1, size=32)
    assert masks.shape == (4, 32, 32)
    rng = np.random.default_rng([0, 3, 1])
    for render, mask in zip(renders, masks, strict=True):
        nuisance = sample_nuisance(rng)
        assert np.array_equal(render, render_face(identity, nuisance))
        assert np.array_equal(mask, person_mask(identity, nuisance))
    assert not np.array_equal(masks[0], masks[1])  # the pose moves the person


def test_a_folder_world_has_no_probe_masks(tmp_path):
    world = tmp_path / "world"
    world.mkdir()
    read_identity_folder(make_folder(tmp_path), world)
    table = pd.read_parquet(world / "identities.parquet")
    with pytest.raises(InputError, match="no person masks"):
        identity_probe_masks(world, table, 2, 0)


def test_probe_masks_are_those_of_the_probe_renders(micro_world):
    table = pd.read_parquet(micro_world / "identities.parquet").iloc[[4, 1]]
    masks = identity_probe_masks(micro_world, table, 2, 5)
    want = np.stack([identity_masks(i, 2, 5, STREAM_EVAL, 32) for i in identities_from_table(table)])
    assert np.array_equal(masks, want) and 0 < masks.mean() < 1
