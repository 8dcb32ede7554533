"""`w2w edit | sample | invert` write loadable LoRA folders and previews; bad input exits non-zero."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from cli_run import run_w2w
from PIL import Image
from safetensors.torch import load_file
from snapshot import snapshot

from w2w.base.pipeline import generate, load_lora, load_pipeline
from w2w.cli import main
from w2w.space.invert import DEFAULT_LR

W2W = str(Path(sys.executable).parent / "w2w")
PARAMS = Path(__file__).resolve().parents[2] / "params.yaml"  # its `preview` section: the previews' sampler


def paths(space, params: Path = PARAMS):
    return ["--weights", str(space / "weights.zarr"), "--basis", str(space / "basis"),
            "--model", str(space / "base" / "model"), "--preview", "2", "--params", str(params)]


def test_edit_sample_invert_write_standard_loras(micro_space, micro_world, tmp_path):
    meta = json.loads((micro_space / "directions" / "zarr.json").read_text())
    attribute = meta["attributes"]["attributes"][0]
    assert main(["edit", "--identity", "0", "--set", f"{attribute}=+2", "--directions",
                 str(micro_space / "directions"), "--out", str(tmp_path / "edit"), *paths(micro_space)]) == 0
    assert main(["sample", "--n", "2", "--seed", "3", "--out", str(tmp_path / "sample"),
                 *paths(micro_space)]) == 0
    fewer_steps = yaml.safe_load(PARAMS.read_text())
    fewer_steps["preview"]["sampler_steps"] = 2
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(fewer_steps))
    assert main(["sample", "--n", "2", "--seed", "3", "--out", str(tmp_path / "sample-2-steps"),
                 *paths(micro_space, tmp_path / "params.yaml")]) == 0
    same, other = (tmp_path / "sample", tmp_path / "sample-2-steps")
    models = [load_file(f / "sample-001" / "pytorch_lora_weights.safetensors") for f in (same, other)]
    assert all(torch.equal(models[0][k], models[1][k]) for k in models[0])  # the same models, and
    assert (same / "preview.png").read_bytes() != (other / "preview.png").read_bytes()  # params' sampler
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(tmp_path / "photo.png")
    assert main(["invert", str(tmp_path / "photo.png"), "--steps", "5", "--k", "4",
                 "--out", str(tmp_path / "inv"), *paths(micro_space)]) == 0
    assert main(["invert", str(tmp_path / "photo.png"), "--steps", "5", "--k", "4", "--timesteps", "400",
                 "1000", "--preview", "0", "--out", str(tmp_path / "inv-noisy"), *paths(micro_space)]) == 0
    infos = [json.loads((tmp_path / out / "info.json").read_text()) for out in ("inv", "inv-noisy")]
    assert (infos[0]["timesteps"], infos[1]["timesteps"]) == (None, [400, 1000])
    assert infos[0]["lr"] == DEFAULT_LR  # the lr it ran with, not the absent option
    assert infos[0]["coefficients"] != infos[1]["coefficients"]  # the draws' range takes effect
    assert main(["edit", "--identity", "0", "--set", f"{attribute}=+2", "--delay", "500", "--directions",
                 str(micro_space / "directions"), "--out", str(tmp_path / "late"), *paths(micro_space)]) == 0
    assert json.loads((tmp_path / "late" / "info.json").read_text())["delay"] == 500
    late, now = (load_file(tmp_path / out / "pytorch_lora_weights.safetensors") for out in ("late", "edit"))
    assert all(torch.equal(late[k], now[k]) for k in now)  # the same model, only sampled differently
    previews = [(tmp_path / out / "preview.png").read_bytes() for out in ("late", "edit")]
    assert previews[0] != previews[1]
    for folder in [tmp_path / "edit", tmp_path / "sample" / "sample-001", tmp_path / "inv"]:
        assert (folder / "pytorch_lora_weights.safetensors").is_file()
        assert (folder / "adapter_config.json").is_file()
    for out in ["edit", "sample", "inv"]:
        assert (tmp_path / out / "preview.png").is_file() and (tmp_path / out / "info.json").is_file()
    pipe = load_pipeline(micro_space / "base" / "model")
    plain = generate(pipe, "sks person", 1, 0, 3, 3.0)
    load_lora(pipe, tmp_path / "edit")  # stock diffusers loading
    assert not np.array_equal(generate(pipe, "sks person", 1, 0, 3, 3.0), plain)


@pytest.mark.parametrize("args, message", [
    (["edit", "--identity", "0", "--set", "Nope=+2"], "no direction for 'Nope'"),
    (["edit", "--identity", "0", "--set", "Eyeglasses"], "expected ATTRIBUTE=STRENGTH"),
    (["edit", "--identity", "99999", "--set", "Male=1"], "identity 99999 is not in the fleet"),
    (["sample", "--n", "0"], "--n must be >= 1"),
    (["invert", "corrupt.png"], "not a readable image"),
    (["invert", "missing.png"], "no such image"),
])
def test_bad_input_is_a_clear_error(micro_space, tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corrupt.png").write_bytes(b"garbage")
    extra = ["--directions", str(micro_space / "directions")] if args[0] == "edit" else []
    assert main([*args, *extra, "--out", str(tmp_path / "out"), *paths(micro_space)]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_invert_speaks_to_the_user_in_one_line_each(micro_space, tmp_path):
    """A directory and a 1x1 image are refused by name before any work; through the real console
    script, a wide image is centre-cropped with a one-line warning, and no warning meant for
    developers shows (the process's own warning filters)."""
    wide = np.zeros((40, 64, 3), np.uint8)
    Image.fromarray(wide).save(tmp_path / "wide.png")
    Image.fromarray(wide[:1, :1]).save(tmp_path / "dot.png")
    (tmp_path / "photos").mkdir()
    before = snapshot(tmp_path)

    def invert(image, out):
        return subprocess.run([W2W, "invert", str(image), "--steps", "2", "--out", str(tmp_path / out),
                               *paths(micro_space)], capture_output=True, text=True, cwd=tmp_path)

    for image, message in [(tmp_path / "photos", "photos: is a directory, not an image file"),
                           (tmp_path / "dot.png", "dot.png: 1x1 is too small to hold a face (at least 16")]:
        result = run_w2w("invert", image, "--steps", "2", "--out", tmp_path / "refused", *paths(micro_space),
                         cwd=tmp_path)  # in this process: the refusal is the same main()
        assert result.returncode == 1 and message in result.stderr, result.stderr
        assert "invert:" not in result.stderr and "Traceback" not in result.stderr
    result = run_w2w("invert", tmp_path / "wide.png", "--timesteps", "600", "200", "--steps", "2", "--out",
                     tmp_path / "refused", *paths(micro_space), cwd=tmp_path)
    assert result.returncode == 1 and "--timesteps must be LOW HIGH with 0 <= LOW < HIGH <= 1000, got " \
        "600 200" in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert snapshot(tmp_path) == before
    done = invert(tmp_path / "wide.png", "ok")
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "warning" in line.lower()]
    assert warnings == [f"warning: {tmp_path / 'wide.png'}: 64x40 centre-cropped to a square and resized "
                        "to 32x32"]


def test_missing_basis_is_a_clear_error(micro_space, tmp_path, capsys):
    code = main(["sample", "--out", str(tmp_path / "o"), "--weights", str(micro_space / "weights.zarr"),
                 "--basis", str(tmp_path / "nothing")])
    assert code == 1 and "not a basis" in capsys.readouterr().err


def test_a_missing_params_file_is_a_clear_error_before_any_work(micro_space, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:  # the params file's errors exit 2, as every stage's do
        main(["sample", "--out", str(tmp_path / "o"), *paths(micro_space, tmp_path / "none.yaml")])
    assert stop.value.code == 2 and "none.yaml" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert main(["sample", "--out", str(tmp_path / "o"), *paths(micro_space, tmp_path / "none.yaml"),
                 "--preview", "0"]) == 0  # without previews no params are read


def test_project_places_a_stock_diffusers_lora_in_the_space(micro_space, tmp_path):
    """A fleet model saved by stock diffusers (its own key names, another alpha) is read as that model:
    `generate --lora` draws what the export of the same row draws, and `project` gives the basis's
    own coefficients of the row; projecting the projection misses nothing."""
    from stock import save_stock_lora

    from w2w.space.loader import Space

    space = Space.open(micro_space / "weights.zarr", micro_space / "basis")
    identity = int(space.basis.train_identity_ids[0])
    row = space.row(identity)
    model = micro_space / "base" / "model"
    save_stock_lora(load_pipeline(model).unet, space.layout, row, tmp_path / "stock",
                    alpha=space.lora["lora_alpha"], file_alpha=1.0, diffusers_names=True)
    assert main(["export", "--weights", str(micro_space / "weights.zarr"), "--identity", str(identity),
                 "--out", str(tmp_path / "export")]) == 0
    grids = []
    for lora in ("stock", "export", None):
        extra = ["--lora", str(tmp_path / lora)] if lora else []
        assert main(["generate", "--model", str(model), *extra, "--n", "2", "--steps", "3",
                     "--guidance", "3", "--out", str(tmp_path / f"{lora}.png")]) == 0
        grids.append(np.asarray(Image.open(tmp_path / f"{lora}.png"), dtype=int))
    assert np.abs(grids[0] - grids[1]).max() <= 1 < np.abs(grids[1] - grids[2]).max()

    project = ["project", *paths(micro_space), "--out"]
    assert main([*project, str(tmp_path / "placed"), str(tmp_path / "stock")]) == 0
    placed = json.loads((tmp_path / "placed" / "info.json").read_text())
    np.testing.assert_allclose(placed["coefficients"], space.basis.to_coefficients(row), rtol=1e-4, atol=1e-4)
    assert 0 < placed["standardised_relative_residual"] < 1 and 0 < placed["relative_residual"] < 1
    assert (tmp_path / "placed" / "preview.png").is_file()
    assert main([*project, str(tmp_path / "again"), str(tmp_path / "placed")]) == 0
    again = json.loads((tmp_path / "again" / "info.json").read_text())
    np.testing.assert_allclose(again["coefficients"], placed["coefficients"], rtol=1e-4, atol=1e-4)
    assert again["standardised_relative_residual"] < 1e-3


def test_project_refuses_a_lora_of_other_layers_in_one_line(micro_space, tmp_path, capsys):
    from stock import save_stock_lora

    from w2w.adapters.lora import layout_for

    unet = load_pipeline(micro_space / "base" / "model").unet
    layout = layout_for(unet, ("to_k",), 1)
    save_stock_lora(unet, layout, np.full(layout.dim, 0.1, np.float32), tmp_path / "to_k", alpha=1.0,
                    file_alpha=1.0, diffusers_names=False, targets=("to_k",))
    assert main(["project", str(tmp_path / "to_k"), "--out", str(tmp_path / "out"), *paths(micro_space)]) == 1
    err = capsys.readouterr().err
    assert f"error: {tmp_path / 'to_k'}: the LoRA adapts" in err
    assert "layers outside the space's layout" in err
    assert not (tmp_path / "out").exists()


def test_sample_alike_draws_blends_of_train_identities_who_share(micro_space, micro_world, tmp_path):
    from w2w.adapters.files import UNET_PREFIX
    from w2w.space.loader import Space

    space = Space.open(micro_space / "weights.zarr", micro_space / "basis")
    train = space.basis.to_weights(space.basis.train_coefficients)          # (n_train, D)

    def sampled(alike: int, out: str) -> np.ndarray:
        assert main(["sample", "--n", "3", "--seed", "1", "--alike", str(alike), "--attributes",
                     str(micro_world / "identities.parquet"), "--out", str(tmp_path / out),
                     *paths(micro_space), "--preview", "0"]) == 0
        files = [load_file(tmp_path / out / f"sample-{i:03d}" / "pytorch_lora_weights.safetensors")
                 for i in range(3)]
        return np.stack([space.layout.flatten({k.removeprefix(UNET_PREFIX): v for k, v in f.items()})
                         for f in files])

    ones = sampled(1, "ones")  # a blend of one is a train identity's own model (in the space)
    assert all(np.abs(train - v).max(1).min() < 1e-4 for v in ones)
    info = json.loads((tmp_path / "ones" / "info.json").read_text())
    assert (info["alike"], info["attributes"]) == (1, str(micro_world / "identities.parquet"))
    pairs = sampled(2, "pairs")  # a blend of two is none of them
    assert all(np.abs(train - v).max(1).min() > 1e-3 for v in pairs)


@pytest.mark.parametrize("table, message", [
    (None, "no such file"),
    ("identity_id,Male\n0,true\n", "no attributes for"),
    ("identity_id,score\n0,1.5\n", "expected an identity_id column and attribute (true/false) columns"),
])
def test_sample_alike_names_a_bad_attributes_file(micro_space, tmp_path, capsys, table, message):
    path = tmp_path / "attributes.csv"
    if table is not None:
        path.write_text(table)
    assert main(["sample", "--alike", "2", "--attributes", str(path), "--out", str(tmp_path / "out"),
                 *paths(micro_space)]) == 1
    assert f"--attributes {path}: " in (err := capsys.readouterr().err) and message in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, message", [
    (["--alike", "100000"], "--alike 100000: more than the space's"),
    (["--alike", "2", "--covariance", "full"], "--covariance sets the Gaussian's draws"),
    (["--alike", "-1"], "--alike must be >= 0"),
])
def test_sample_alike_names_a_bad_option(micro_space, micro_world, tmp_path, capsys, args, message):
    assert main(["sample", *args, "--attributes", str(micro_world / "identities.parquet"),
                 "--out", str(tmp_path / "out"), *paths(micro_space)]) == 1
    assert message in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_commands_that_read_a_lora_or_invert_load_the_base_once_and_preview_it_bare(micro_space, tmp_path,
                                                                                  monkeypatch):
    """`edit --lora`, `project` and `invert` load the base pipeline once: a LoRA is read through it
    and unloaded again, the inversion's adapter is removed, and that pipeline draws the preview,
    which is the written model's samples on a freshly loaded base, byte for byte."""
    import w2w.base.pipeline as pipeline
    from w2w.params import load_params
    from w2w.space.cli import PREVIEW_PROMPT_DEFAULT, lora_vector
    from w2w.space.delayed import model_samples
    from w2w.space.loader import Space
    from w2w.world.dataset import contact_sheet

    model = micro_space / "base" / "model"
    space = Space.open(micro_space / "weights.zarr", micro_space / "basis")
    sampler = load_params(PARAMS).preview
    assert main(["export", "--weights", str(micro_space / "weights.zarr"), "--identity", "0",
                 "--out", str(tmp_path / "row0")]) == 0
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(tmp_path / "photo.png")
    loads = []
    monkeypatch.setattr(pipeline, "load_pipeline", lambda path: loads.append(path) or load_pipeline(path))
    meta = json.loads((micro_space / "directions" / "zarr.json").read_text())
    attribute = meta["attributes"]["attributes"][0]
    commands = {"edit": ["edit", "--lora", str(tmp_path / "row0"), "--set", f"{attribute}=2", "--directions",
                         str(micro_space / "directions")],
                "project": ["project", str(tmp_path / "row0")],
                "invert": ["invert", str(tmp_path / "photo.png"), "--steps", "3", "--k", "4"]}
    for name, command in commands.items():
        loads.clear()
        assert main([*command, "--out", str(tmp_path / name), *paths(micro_space)]) == 0
        assert len(loads) == 1, f"{name} loaded the base {len(loads)} times"
        vector = lora_vector(space, load_pipeline(model), tmp_path / name)
        fresh = model_samples(load_pipeline(model), space.layout, space.scaling, vector,
                              PREVIEW_PROMPT_DEFAULT, 2, sampler.seed, sampler.sampler_steps,
                              sampler.guidance_scale, base_unconditional=sampler.unconditional == "base")
        expected = np.asarray(contact_sheet(fresh, rows=1, cols=2))
        assert np.array_equal(np.asarray(Image.open(tmp_path / name / "preview.png")), expected), name
