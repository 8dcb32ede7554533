"""`w2w import-reference` on small fake files of the published structure: safe loading, a refused
malicious pickle whose code never runs, clear shape errors, and a basis that edit/sample/invert use."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import zarr
from cli_run import run_w2w
from PIL import Image
from snapshot import snapshot

from w2w.adapters.layout import AdapterLayout

BIN = Path(sys.executable).parent
MODELS, K = 30, 10


class RunsCode:
    """Unpickling this runs a shell command: what a hostile identity_df.pt or V.pt could hold."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def fake_files(folder: Path, layout: AdapterLayout, marker: Path) -> Path:
    files = folder / "files"
    files.mkdir()
    rng = np.random.default_rng(0)
    d = layout.dim
    v, _ = np.linalg.qr(rng.standard_normal((d, 2 * K)))  # (D, 2K) orthonormal columns
    proj = rng.standard_normal((MODELS, K)) * np.linspace(3, 0.5, K)
    dims = {f"base_model.model.{key}": (int(np.prod(shape)), torch.Size(shape))
            for key, shape in zip(layout.keys, layout.shapes, strict=True)}
    torch.save(torch.from_numpy(v).float(), files / "V.pt")
    torch.save(torch.from_numpy(rng.standard_normal(d) * 1e-3).float(), files / "mean.pt")
    torch.save(torch.from_numpy(rng.uniform(1e-3, 2e-3, d)).float(), files / "std.pt")
    torch.save(torch.from_numpy(proj).float(), files / "proj_1000pc.pt")
    torch.save(dims, files / "weight_dimensions.pt")
    torch.save(RunsCode(marker), files / "identity_df.pt")
    (files / "adapter_config.json").write_text(json.dumps(
        {"r": 1, "lora_alpha": 27, "target_modules": ["to_v", "to_q"], "peft_type": "LORA"}))
    labels = pd.DataFrame({"Eyeglasses": np.where(proj[:, 0] > 0, 1, -1),
                           "Young": np.where(proj[:, 1] > 0, 1, -1)})
    labels.to_csv(folder / "labels.csv", index=False)
    return files


def w2w(*args, env, cwd) -> subprocess.CompletedProcess:
    """In this process (tests/cli_run.py); `env` is for the one run through the console script."""
    return run_w2w(*args, cwd=cwd)


def w2w_process(*args, env, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "w2w"), *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture
def setup(micro_space, tmp_path):
    layout = AdapterLayout.from_json(
        zarr.open_array(micro_space / "weights.zarr" / "weights", mode="r").attrs["layout"])
    marker = tmp_path / "CODE_RAN"
    return fake_files(tmp_path, layout, marker), marker, layout


def test_imported_basis_serves_edit_sample_invert(setup, micro_space, tmp_path, tool_env):
    files, marker, layout = setup
    done = w2w_process("import-reference", "--files", files, "--out", tmp_path / "ref", "--labels",
                       tmp_path / "labels.csv", env=tool_env, cwd=tmp_path)  # the real command, once
    assert done.returncode == 0, done.stderr
    assert not marker.exists()  # identity_df.pt was never unpickled
    summary = json.loads((tmp_path / "ref" / "info.json").read_text())
    assert summary["command"] == "import-reference" and "basis/" in summary["written"]
    assert summary["components"] == K and summary["dim"] == layout.dim and summary["directions"]
    assert summary["train_auc"]["Eyeglasses"] > 0.9  # labels follow coefficient 0 by construction
    model, ref = micro_space / "base" / "model", tmp_path / "ref"
    common = ["--basis", ref / "basis", "--weights", tmp_path / "no-fleet", "--model", model,
              "--preview", "1", "--params", Path(__file__).resolve().parents[2] / "params.yaml"]
    Image.new("RGB", (32, 32), (200, 150, 120)).save(tmp_path / "face.png")
    for args in (["sample", "--n", "2", "--out", tmp_path / "s"],
                 ["edit", "--identity", "3", "--set", "Eyeglasses=+2", "--directions", ref / "directions",
                  "--out", tmp_path / "e"],
                 ["invert", tmp_path / "face.png", "--steps", "3", "--out", tmp_path / "i"]):
        result = w2w(*args, *common, env=tool_env, cwd=tmp_path)
        assert result.returncode == 0, (args[0], result.stderr[-2000:])
    from safetensors.torch import load_file

    exported = load_file(tmp_path / "e" / "pytorch_lora_weights.safetensors")
    # the reference's wrapper prefix is gone: the names stock diffusers' save_lora_weights writes
    assert set(exported) == {f"unet.{key}" for key in layout.keys}

    # `w2w explore` on the imported basis: its models are the identities, and they edit and render
    from w2w.explore.session import ExploreSpace
    from w2w.params import PreviewParams

    explorer = ExploreSpace.open(tmp_path / "no-fleet", ref / "basis", ref / "directions", model,
                                 PreviewParams(sampler_steps=2, guidance_scale=2.0, unconditional="model",
                                               seed=0))
    models = explorer.identity_ids
    assert models == [int(i) for i in explorer.space.basis.train_identity_ids] and 3 in models
    start = explorer.identity(3)
    moved = explorer.edited(start, {"Eyeglasses": 2.0})
    assert not np.array_equal(moved, start) and explorer.render(moved).shape[0] == 4


@pytest.mark.parametrize("protocol", [2, 4])  # GLOBAL, and STACK_GLOBAL (pickle's default since 3.8)
def test_malicious_tensor_file_is_refused_and_its_code_never_runs(setup, tmp_path, tool_env, protocol):
    files, marker, _ = setup
    torch.save(RunsCode(marker), files / "V.pt", pickle_protocol=protocol)
    done = w2w("import-reference", "--files", files, "--out", tmp_path / "ref", env=tool_env, cwd=tmp_path)
    assert done.returncode != 0 and "V.pt" in done.stderr and "refused" in done.stderr
    assert "corrupt" not in done.stderr
    assert not marker.exists() and not (tmp_path / "ref").exists()


def test_truncated_tensor_file_is_called_corrupt_not_unsafe(setup, tmp_path, tool_env):
    files, _, _ = setup
    data = (files / "V.pt").read_bytes()
    (files / "V.pt").write_bytes(data[: len(data) // 2])
    done = w2w("import-reference", "--files", files, "--out", tmp_path / "ref", env=tool_env, cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]  # one line
    assert f"{files / 'V.pt'}: corrupt or truncated" in done.stderr and "refused" not in done.stderr
    assert not (tmp_path / "ref").exists()


def test_out_holding_other_files_is_refused_even_with_force(setup, tmp_path, tool_env):
    files, _, _ = setup
    out = tmp_path / "mine"
    (out / "sub").mkdir(parents=True)
    (out / "notes.txt").write_text("notes")
    before = snapshot(tmp_path)
    for force in ([], ["--force"]):
        done = w2w("import-reference", "--files", files, "--out", out, *force, env=tool_env, cwd=tmp_path)
        assert done.returncode == 1 and f"{out}: holds files that w2w did not write" in done.stderr
        assert snapshot(tmp_path) == before


def test_an_earlier_import_is_replaced_only_with_force(setup, tmp_path, tool_env):
    files, _, _ = setup
    out = tmp_path / "ref"
    assert w2w("import-reference", "--files", files, "--out", out, env=tool_env, cwd=tmp_path).returncode == 0
    before = snapshot(tmp_path)
    again = w2w("import-reference", "--files", files, "--out", out, env=tool_env, cwd=tmp_path)
    assert again.returncode == 1 and "pass --force to replace it" in again.stderr
    assert snapshot(tmp_path) == before
    forced = w2w("import-reference", "--files", files, "--out", out, "--components", "5", "--force",
                 env=tool_env, cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert json.loads((out / "info.json").read_text())["components"] == 5


def test_labels_pickle_needs_trust(setup, tmp_path, tool_env):
    files, marker, _ = setup
    done = w2w("import-reference", "--files", files, "--out", tmp_path / "a", env=tool_env, cwd=tmp_path)
    assert done.returncode == 0 and "identity_df.pt is a pickle" in done.stdout
    assert not marker.exists() and not (tmp_path / "a" / "directions").exists()
    torch.save(pd.read_csv(tmp_path / "labels.csv"), files / "identity_df.pt")  # a benign DataFrame
    done = w2w("import-reference", "--files", files, "--out", tmp_path / "b", "--trust-pickle",
               env=tool_env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "b" / "directions" / "zarr.json").is_file()


@pytest.mark.parametrize("name, bad, message", [
    ("mean.pt", torch.zeros(5), "mean.pt: length 5"),
    ("V.pt", torch.zeros(7, 3), "V.pt: shape (7, 3)"),
    ("weight_dimensions.pt", {"x.weight": (2, torch.Size([1, 2]))}, "not a LoRA A/B weight"),
])
def test_shape_and_layout_mismatches_are_named(setup, tmp_path, tool_env, name, bad, message):
    files, _, _ = setup
    torch.save(bad, files / name)
    done = w2w("import-reference", "--files", files, "--out", tmp_path / "ref", env=tool_env, cwd=tmp_path)
    assert done.returncode == 1 and message in done.stderr, done.stderr
    assert not (tmp_path / "ref").exists()


def test_missing_files_are_listed(tmp_path, tool_env):
    (tmp_path / "files").mkdir()
    done = w2w("import-reference", "--files", tmp_path / "files", "--out", tmp_path / "ref", env=tool_env,
               cwd=tmp_path)
    assert done.returncode == 1 and "missing V.pt, mean.pt" in done.stderr
