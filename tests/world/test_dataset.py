import hashlib
import json

import numpy as np
import pandas as pd
import zarr

from w2w.storage import STREAM_IMAGES
from w2w.world.dataset import identities_from_table, render_identity, synthesize_world
from w2w.world.identity import ATTRIBUTES, GRADED, Grading


def tree_digest(folder) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_params_give_the_same_bytes(tmp_path, micro_params):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    synthesize_world(micro_params.synthesize, a)
    synthesize_world(micro_params.synthesize, b)
    digest = tree_digest(a)
    assert len(digest) > 5 and digest == tree_digest(b)


def test_outputs_layout(tmp_path, micro_params):
    p = micro_params.synthesize
    summary = synthesize_world(p, tmp_path)
    table = pd.read_parquet(tmp_path / "identities.parquet")
    assert list(table["identity_id"]) == list(range(p.identities))
    assert set(ATTRIBUTES) <= set(table.columns)
    held = table[table["split"] == "heldout"]
    assert len(held) == round(p.identities * p.heldout_fraction) == summary["heldout_identities"]
    group = zarr.open_group(tmp_path / "images.zarr", mode="r")
    assert group["images"].shape == (p.identities, p.images_per_identity, 32, 32, 3)
    assert group["ood"].shape == (len(held), p.ood_images_per_identity, 32, 32, 3)
    assert list(group["ood_identity_ids"][:]) == list(held["identity_id"])
    images = np.asarray(group["images"][:])
    assert not np.array_equal(images[0, 0], images[0, 1])  # nuisance differs per image
    captions = json.loads((tmp_path / "captions.json").read_text())
    assert captions["generic"] == "a photo of a person"
    assert len(captions["identities"]) == p.identities and "eyeglasses" in captions["vocabulary"]
    assert (tmp_path / "contact_sheet.png").stat().st_size > 0


def test_a_graded_world_keeps_its_grades_for_every_later_drawing(tmp_path, micro_params):
    """graded_cues: the table carries each person's strengths, read back by identities_from_table
    (what references, masks and the judge draw from), and images.zarr says how its people were
    drawn, their traits' factors too; the world as first drawn (no grades, independent traits) has
    neither."""
    p = micro_params.synthesize.model_copy(update={"graded_cues": "all", "grade_margin": 0.25})
    synthesize_world(p, tmp_path)
    table = pd.read_parquet(tmp_path / "identities.parquet")
    people = identities_from_table(table)
    drawn = Grading("all", 0.25, p.trait_factors, p.trait_communality)
    assert p.trait_factors > 0 and people == [drawn.draw(i, p.seed) for i in range(p.identities)]
    assert {f"grade_{a}" for a in (*GRADED, "Male")} <= set(table.columns)
    group = zarr.open_group(tmp_path / "images.zarr", mode="r")
    assert Grading.of_world(group.attrs) == drawn
    images = np.asarray(group["images"][:])
    first = render_identity(people[0], p.images_per_identity, p.seed, STREAM_IMAGES, p.image_size)
    assert np.array_equal(images[0], first)  # drawn graded
    plain = tmp_path / "plain"
    plain.mkdir()
    synthesize_world(micro_params.synthesize.model_copy(update={"trait_factors": 0}), plain)
    assert not any(c.startswith("grade_") for c in pd.read_parquet(plain / "identities.parquet").columns)
    assert Grading.of_world(zarr.open_group(plain / "images.zarr", mode="r").attrs) == Grading()
    assert not np.array_equal(np.asarray(zarr.open_group(plain / "images.zarr", mode="r")["images"][:]),
                              images)
