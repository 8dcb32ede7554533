"""`w2w export`: a row of weights.zarr becomes a LoRA folder that the base pipeline loads."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from cli_run import run_w2w
from committed import section

from w2w.adapters.layout import AdapterLayout
from w2w.adapters.lora import lora_target_names
from w2w.base.pipeline import generate, load_lora, load_pipeline
from w2w.fleet.config import lora_config_dict
from w2w.fleet.shards import stack_shards, write_shard

W2W = str(Path(sys.executable).parent / "w2w")


def fleet_of_two(unet, folder: Path) -> Path:
    g = torch.Generator().manual_seed(0)
    weights = {}
    for name in lora_target_names(unet, tuple(section("finetune").targets)):  # as the config says
        layer = unet.get_submodule(name)
        weights[f"{name}.lora_A.weight"] = torch.randn(2, 1, layer.in_features, generator=g) * 0.3
        weights[f"{name}.lora_B.weight"] = torch.randn(2, layer.out_features, 1, generator=g) * 0.3
    layout = AdapterLayout.from_weights(weights, stacked=True)
    write_shard(folder / "shard-00000.safetensors", [5, 9], weights, layout)
    stack_shards([folder / "shard-00000.safetensors"], np.array([5, 9]), np.array(["train", "heldout"]),
                 layout, lora_config_dict(section("finetune")), folder / "weights.zarr", block=2)
    return folder / "weights.zarr"


def test_export_row_loads_into_the_pipeline(tiny_pipeline, tmp_path):
    pipe = load_pipeline(tiny_pipeline[1])
    store = fleet_of_two(pipe.unet, tmp_path)
    result = subprocess.run([W2W, "export", "--weights", str(store), "--identity", "9",
                             "--out", str(tmp_path / "id9")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    plain = generate(pipe, "a photo of sks person", 1, seed=0, steps=3, guidance_scale=3.0)
    load_lora(pipe, tmp_path / "id9")
    edited = generate(pipe, "a photo of sks person", 1, seed=0, steps=3, guidance_scale=3.0)
    assert not np.array_equal(plain, edited)


def test_unknown_identity_and_missing_store_are_clear_errors(tiny_pipeline, tmp_path):
    store = fleet_of_two(load_pipeline(tiny_pipeline[1]).unet, tmp_path)
    unknown = run_w2w("export", "--weights", store, "--identity", "7", "--out", tmp_path / "x", cwd=tmp_path)
    assert unknown.returncode != 0 and "identity 7 is not in" in unknown.stderr
    missing = run_w2w("export", "--weights", tmp_path / "nope.zarr", "--identity", "5",
                      "--out", tmp_path / "y", cwd=tmp_path)
    assert missing.returncode != 0 and "not a weights.zarr" in missing.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
