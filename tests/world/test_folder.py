"""`synthesize.source: folder`: real identity folders read into the world layout; bad input reported."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import zarr
from folders import ATTRS, make_folder

from w2w.world.folder import read_attribute_file, read_identity_folder


def test_folder_becomes_the_world_layout(tmp_path, capsys):
    p = make_folder(tmp_path)
    out = tmp_path / "world"
    out.mkdir()
    summary = read_identity_folder(p, out)
    printed = capsys.readouterr().out
    assert "person01/0.jpg" in printed and "bad image" in printed
    assert "person02 has 1 readable images, needs 3 (2 to train on, 1 held back)" in printed
    assert summary["bad_images"] == 1 and summary["skipped_identities"] == 1 and summary["identities"] == 5
    table = pd.read_parquet(out / "identities.parquet")
    assert table["name"].tolist() == ["person00", "person01", "person03", "person04", "person05"]
    assert table.loc[table["name"] == "person03", ATTRS].values.tolist() == [[True, True, False]]
    assert table.loc[table["name"] == "person04", ATTRS].values.tolist() == [[False, True, False]]
    group = zarr.open_group(out / "images.zarr", mode="r")
    assert group["images"].shape == (5, 2, 32, 32, 3) and group["images"].dtype == np.uint8
    assert group["references"].shape == (5, 1, 32, 32, 3) and summary["references"] == 5
    for images, held in zip(group["images"][:], group["references"][:], strict=True):
        assert not any(np.array_equal(h, i) for h in held for i in images)  # held back: never trained on
    captions = json.loads((out / "captions.json").read_text())
    assert captions["identities"]["2"] == "a photo of a man with eyeglasses"   # person03: majority labels
    assert captions["identities"]["3"] == "a photo of a man"                   # person04: Male only
    assert {"man", "eyeglasses", "smiling"} <= set(captions["vocabulary"])
    held = int((table["split"] == "heldout").sum())
    assert held >= 1 and group["ood"].shape == (held, 1, 32, 32, 3)
    first_held = int(np.flatnonzero(table["split"] == "heldout")[0])
    painted_from = group["images"][first_held, 1]  # the last training photo, not a reference
    assert np.abs(group["ood"][0, 0].astype(int) - painted_from.astype(int)).mean() < \
        np.abs(group["ood"][0, 0].astype(int) - group["references"][first_held, 0].astype(int)).mean()
    assert (out / "contact_sheet.png").is_file()


def test_the_split_is_seeded_and_keeps_its_files_apart(tmp_path):
    p = make_folder(tmp_path)
    worlds = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 5)):
        (tmp_path / name).mkdir()
        read_identity_folder(p.model_copy(update={"seed": seed}), tmp_path / name)
        group = zarr.open_group(tmp_path / name / "images.zarr", mode="r")
        worlds[name] = np.concatenate([group["images"][:], group["references"][:]], axis=1)  # (N, 3, ...)
    assert np.array_equal(worlds["a"], worlds["b"])
    assert not np.array_equal(worlds["a"], worlds["c"])
    # another seed draws other images of the same identities, in another split
    assert not np.array_equal(worlds["a"][:, 2], worlds["c"][:, 2])


def test_attribute_file_errors_are_clear(tmp_path):
    (tmp_path / "a.txt").write_text("2\nEyeglasses Male\nx 1 0\n")
    with pytest.raises(ValueError, match="need 2 values of -1/1"):
        read_attribute_file(tmp_path / "a.txt")
    with pytest.raises(FileNotFoundError, match="no attribute file"):
        read_attribute_file(tmp_path / "missing.txt")


def test_stage_refuses_an_unusable_folder_and_keeps_the_last_world(project_copy, tmp_path, tool_env):
    import yaml

    params = yaml.safe_load((project_copy / "params.yaml").read_text())
    params["synthesize"].update(source="folder", folder=str(tmp_path / "nothing"),
                                attributes_file=str(tmp_path / "none.txt"))
    (project_copy / "params.yaml").write_text(yaml.safe_dump(params))
    (project_copy / "data" / "world").mkdir(parents=True)
    (project_copy / "data" / "world" / "keep").write_text("last good world")
    done = subprocess.run([sys.executable, "stages/synthesize.py"], cwd=project_copy, env=tool_env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "no attribute file" in done.stderr
    assert (project_copy / "data" / "world" / "keep").read_text() == "last good world"
