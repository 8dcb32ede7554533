"""`synthesize.source: folder`: real identity folders read into the world layout; bad input reported."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import zarr
from committed import section
from PIL import Image

from w2w.world.folder import read_attribute_file, read_identity_folder

ATTRS = ["Eyeglasses", "Male", "Smiling"]


def make_folder(root, identities=6):
    rng = np.random.default_rng(0)
    lines, labels = [], {}
    for i in range(identities):
        folder = root / "people" / f"person{i:02d}"
        folder.mkdir(parents=True)
        for j in range(3):
            size = (40 + 8 * j, 32)  # not square, not the target size
            pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{j}.{'png' if j % 2 else 'jpg'}")
        labels[folder.name] = [1 if (i + k) % 2 else -1 for k in range(len(ATTRS))]
    Image.new("RGBA", (30, 30), (255, 0, 0, 0)).save(root / "people" / "person00" / "3.png")
    (root / "people" / "person01" / "0.jpg").write_bytes(b"not a jpeg")  # reported, skipped
    for f in list((root / "people" / "person02").iterdir())[1:]:
        f.unlink()  # one image left: too few
    for j in range(3):  # person03's labels are per image: the majority counts
        lines.append(f"person03/{j}.{'png' if j % 2 else 'jpg'} " + " ".join(["1", "1", "-1"]))
    del labels["person03"]
    lines += [f"{name} " + " ".join(map(str, v)) for name, v in labels.items()]
    text = f"{len(lines)}\n{' '.join(ATTRS)}\n" + "\n".join(lines) + "\n"
    (root / "list_attr_celeba.txt").write_text(text)
    return section("synthesize", source="folder", folder=str(root / "people"),
                            attributes_file=str(root / "list_attr_celeba.txt"), images_per_identity=2,
                            ood_images_per_identity=1, heldout_fraction=0.25, image_size=32)


def test_folder_becomes_the_world_layout(tmp_path, capsys):
    p = make_folder(tmp_path)
    out = tmp_path / "world"
    out.mkdir()
    summary = read_identity_folder(p, out)
    printed = capsys.readouterr().out
    assert "person01/0.jpg" in printed and "bad image" in printed
    assert "person02 has 1 readable images, needs 2" in printed
    assert summary["bad_images"] == 1 and summary["skipped_identities"] == 1 and summary["identities"] == 5
    table = pd.read_parquet(out / "identities.parquet")
    assert table["name"].tolist() == ["person00", "person01", "person03", "person04", "person05"]
    assert table.loc[table["name"] == "person03", ATTRS].values.tolist() == [[True, True, False]]
    assert table.loc[table["name"] == "person04", ATTRS].values.tolist() == [[False, True, False]]
    group = zarr.open_group(out / "images.zarr", mode="r")
    assert group["images"].shape == (5, 2, 32, 32, 3) and group["images"].dtype == np.uint8
    held = int((table["split"] == "heldout").sum())
    assert held >= 1 and group["ood"].shape == (held, 1, 32, 32, 3)
    assert (out / "contact_sheet.png").is_file()


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
