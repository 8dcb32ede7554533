"""`w2w direction`: a direction from two folders of images, beside the attribute directions, that
`w2w edit` applies to a fleet model or to any LoRA of the space (`--lora`)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import zarr
from PIL import Image
from safetensors.torch import load_file

from w2w.adapters.files import UNET_PREFIX
from w2w.cli import main
from w2w.space.directions import Directions
from w2w.space.image_direction import direction_between, with_direction
from w2w.space.loader import Space

INVERSION = ["--steps", "4", "--k", "4", "--images-per-pass", "2"]  # 3 images: two passes


def space_options(space: Path) -> list[str]:
    return ["--weights", str(space / "weights.zarr"), "--basis", str(space / "basis"),
            "--model", str(space / "base" / "model")]


def weights_of(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "pytorch_lora_weights.safetensors")


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def image_folder(folder: Path, colours: list[tuple[int, int, int]]) -> Path:
    folder.mkdir()
    for i, colour in enumerate(colours):
        Image.fromarray(np.full((32, 32, 3), colour, np.uint8)).save(folder / f"{i}.png")
    return folder


@pytest.fixture
def folders(tmp_path):
    dark = image_folder(tmp_path / "dark", [(40, 40, 40), (60, 50, 40), (30, 40, 60)])
    light = image_folder(tmp_path / "light", [(220, 220, 220), (200, 210, 230)])
    return dark, light


def test_direction_between_is_the_folders_mean_difference_in_train_stds():
    rng = np.random.default_rng(0)
    train = rng.standard_normal((50, 6)) * np.array([3, 2, 1, 1, 0.5, 0.5])
    source, target = rng.standard_normal((4, 6)), rng.standard_normal((3, 6)) + np.array([5, 0, 0, 0, 0, 0])
    found = direction_between(source, target, train)
    shift = target.mean(0) - source.mean(0)
    np.testing.assert_allclose(found.unit, shift / np.linalg.norm(shift))
    assert found.scale == pytest.approx((train @ found.unit).std())
    # strength offset * scale along the unit vector carries the source mean to the target mean
    np.testing.assert_allclose(source.mean(0) + found.offset * found.scale * found.unit, target.mean(0))
    with pytest.raises(ValueError, match="the same models"):
        direction_between(source, source.copy(), train)


def test_with_direction_pads_attributes_fitted_on_fewer_components():
    found = direction_between(np.zeros((1, 5)), np.eye(5)[:1], np.eye(5))
    attributes = Directions(["Male"], np.array([[0.6, 0.8, 0.0]]), np.array([2.0]))
    both = with_direction(attributes, "Painting", found)
    assert both.attributes == ["Male", "Painting"] and both.directions.shape == (2, 5)
    np.testing.assert_array_equal(both.vector("Male"), [1.2, 1.6, 0, 0, 0])
    np.testing.assert_allclose(both.vector("Painting"), found.unit * found.scale)
    with pytest.raises(ValueError, match="'Male' is already a direction"):
        with_direction(attributes, "Male", found)


def test_direction_command_writes_a_folder_that_edit_applies(micro_space, folders, tmp_path):
    """The new direction sits beside the attribute directions, which stay as they were: an edit by
    an attribute is the same model from either folder. The direction's edit of a fleet model moves
    it by strength * scale along the inverted folders' mean difference; `--lora` edits a LoRA file
    as `--identity` edits that row."""
    dark, light = folders
    out = tmp_path / "dirs"
    assert main(["direction", "Light", "--from", str(dark), "--to", str(light), "--directions",
                 str(micro_space / "directions"), "--out", str(out), *INVERSION,
                 *space_options(micro_space)]) == 0
    info = json.loads((out / "info.json").read_text())
    assert info["command"] == "direction" and len(info["from"]) == 3 and len(info["to"]) == 2
    assert info["offset"] == pytest.approx(np.mean(info["to_positions"]) - np.mean(info["from_positions"]))
    written, before = Directions.load(out), Directions.load(micro_space / "directions")
    group = zarr.open_group(out, mode="r")  # each image's model: the direction refits from them
    space = Space.open(micro_space / "weights.zarr", micro_space / "basis")
    refit = direction_between(group["from_coefficients"][:].astype(np.float64),
                              group["to_coefficients"][:].astype(np.float64), space.basis.train_coefficients)
    assert group["from_coefficients"].shape == (3, space.basis.k)
    np.testing.assert_allclose(refit.unit, written.directions[-1], atol=1e-5)
    assert refit.offset == pytest.approx(info["offset"], rel=1e-4)
    assert written.attributes == [*before.attributes, "Light"]
    attribute = before.attributes[0]

    def edit(name: str, *how: str) -> dict[str, torch.Tensor]:
        assert main(["edit", *how, "--out", str(tmp_path / name), *space_options(micro_space),
                     "--preview", "0"]) == 0
        return weights_of(tmp_path / name)

    with_old = edit("old", "--identity", "0", "--set", f"{attribute}=2", "--directions",
                    str(micro_space / "directions"))
    with_new = edit("new", "--identity", "0", "--set", f"{attribute}=2", "--directions", str(out))
    assert same_weights(with_old, with_new)

    light_edit = edit("light-edit", "--identity", "0", "--set", "Light=1.5", "--directions", str(out))
    expected = space.row(0) + space.basis.direction_to_weights(1.5 * written.vector("Light"))
    expected = {UNET_PREFIX + k: v for k, v in space.layout.unflatten(expected).items()}
    assert all(torch.allclose(light_edit[k], expected[k], atol=1e-6) for k in expected)
    assert not same_weights(light_edit, with_old)
    assert main(["export", "--weights", str(micro_space / "weights.zarr"), "--identity", "0",
                 "--out", str(tmp_path / "row0")]) == 0
    from_lora = edit("from-lora", "--lora", str(tmp_path / "row0"), "--set", "Light=1.5", "--directions",
                     str(out))
    assert all(torch.allclose(from_lora[k], light_edit[k], atol=1e-6) for k in light_edit)
    assert json.loads((tmp_path / "from-lora" / "info.json").read_text())["lora"] == str(tmp_path / "row0")


def test_the_explorer_shows_a_written_direction_as_a_slider(micro_space, micro_world, folders, tmp_path):
    from w2w.explore.app import build_app
    from w2w.explore.session import ExploreSpace
    from w2w.params import PreviewParams

    dark, light = folders
    assert main(["direction", "Light", "--from", str(dark), "--to", str(light), "--directions",
                 str(micro_space / "directions"), "--out", str(tmp_path / "dirs"), *INVERSION,
                 *space_options(micro_space)]) == 0
    sampler = PreviewParams(sampler_steps=2, guidance_scale=2.0, unconditional="model", seed=0)
    explorer = ExploreSpace.open(micro_space / "weights.zarr", micro_space / "basis", tmp_path / "dirs",
                                 micro_space / "base" / "model", sampler, judge=None, world=micro_world)
    labels = {getattr(block, "label", None) for block in build_app(explorer).blocks.values()}
    assert {"Light", *Directions.load(micro_space / "directions").attributes} <= labels

def test_direction_alone_holds_only_the_new_direction_and_is_replaced_only_with_force(
        micro_space, folders, tmp_path, capsys):
    dark, light = folders
    command = ["direction", "Dark", "--from", str(light), "--to", str(dark), "--alone", "--out",
               str(tmp_path / "alone"), *INVERSION, *space_options(micro_space)]
    assert main(command) == 0
    assert Directions.load(tmp_path / "alone").attributes == ["Dark"]
    first = (tmp_path / "alone" / "info.json").read_text()
    assert main([*command, "--seed", "1"]) == 1 and "pass --force" in capsys.readouterr().err
    assert (tmp_path / "alone" / "info.json").read_text() == first
    assert main([*command, "--seed", "1", "--force"]) == 0
    assert json.loads((tmp_path / "alone" / "info.json").read_text())["seed"] == 1


@pytest.mark.parametrize("case, message", [
    ("missing", "--from {tmp}/nothing: not a folder"),
    ("empty", "--to {tmp}/empty: holds no image"),
    ("corrupt", "bad.png: not a readable image"),
    ("name", "direction name 'my direction': use letters"),
    ("taken", "'{attribute}' is already a direction"),
    ("no-directions", "--directions {tmp}/none: no directions folder"),
    ("same", "--from and --to are the same folder"),
    ("timesteps", "--timesteps must be LOW HIGH with 0 <= LOW < HIGH <= 1000, got 600 200"),
    ("per-pass", "--images-per-pass must be positive"),
])
def test_direction_refuses_bad_input_in_one_line(micro_space, folders, tmp_path, capsys, case, message):
    dark, light = folders
    (tmp_path / "empty").mkdir()
    corrupt = image_folder(tmp_path / "corrupt", [(1, 2, 3)])
    (corrupt / "bad.png").write_bytes(b"garbage")
    attribute = Directions.load(micro_space / "directions").attributes[0]
    name, source, target, extra = "Light", dark, light, ["--directions", str(micro_space / "directions")]
    if case == "missing":
        source = tmp_path / "nothing"
    elif case == "empty":
        target = tmp_path / "empty"
    elif case == "corrupt":
        target = corrupt
    elif case == "name":
        name = "my direction"
    elif case == "taken":
        name = attribute
    elif case == "no-directions":
        extra = ["--directions", str(tmp_path / "none")]
    elif case == "same":
        target = dark
    elif case == "timesteps":
        extra += ["--timesteps", "600", "200"]
    last = ["--images-per-pass", "0"] if case == "per-pass" else []  # after INVERSION's, which it overrides
    code = main(["direction", name, "--from", str(source), "--to", str(target), *extra, "--out",
                 str(tmp_path / "out"), *INVERSION, *space_options(micro_space), *last])
    err = capsys.readouterr().err
    assert code == 1 and message.format(tmp=tmp_path, attribute=attribute) in err, err
    assert not (tmp_path / "out").exists()


def test_edit_takes_one_model_only(micro_space, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["edit", "--identity", "0", "--lora", str(tmp_path), "--set", "Male=1", "--out",
              str(tmp_path / "o")])
    assert stop.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
