import hashlib
import json

import numpy as np
import pandas as pd
import zarr

from w2w.world.dataset import synthesize_world
from w2w.world.identity import ATTRIBUTES


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
