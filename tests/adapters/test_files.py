"""An exported LoRA loads in stock diffusers and generates what the project's own path does."""

import json

import numpy as np
import pytest
from safetensors import safe_open

from w2w.adapters.files import LORA_WEIGHTS, export_lora, lora_config
from w2w.adapters.layout import AdapterLayout
from w2w.adapters.lora import lora_target_names
from w2w.adapters.merge import merge_lora
from w2w.base.pipeline import generate, load_pipeline


def random_adapter(unet, rank=1, seed=0):
    rng = np.random.default_rng(seed)
    weights = {}
    for name in lora_target_names(unet, ("to_q", "to_v")):
        layer = unet.get_submodule(name)
        weights[f"{name}.lora_A.weight"] = (rank, layer.in_features)
        weights[f"{name}.lora_B.weight"] = (layer.out_features, rank)
    layout = AdapterLayout(tuple(weights), tuple(weights.values()))
    return layout, rng.normal(0, 0.3, layout.dim).astype(np.float32)


def test_stock_diffusers_loads_the_export_and_matches_the_merged_path(tiny_pipeline, tmp_path):
    folder = tiny_pipeline[1]
    stock = load_pipeline(folder)
    layout, vector = random_adapter(stock.unet)
    config = lora_config(rank=1, alpha=4.0, targets=("to_q", "to_v"))
    weights_file = export_lora(vector, layout, config, tmp_path / "lora")
    assert json.loads((tmp_path / "lora" / "adapter_config.json").read_text())["lora_alpha"] == 4.0
    with safe_open(weights_file, "pt") as f:
        assert list(f.keys()) == sorted(layout.keys)
    stock.unet.load_lora_adapter(str(tmp_path / "lora"), weight_name=LORA_WEIGHTS, prefix=None)
    merged = load_pipeline(folder)
    merge_lora(merged.unet, layout.unflatten(vector), scaling=4.0)
    plain = generate(load_pipeline(folder), "a photo of sks person", 2, seed=3, steps=3, guidance_scale=3.0)
    a = generate(stock, "a photo of sks person", 2, seed=3, steps=3, guidance_scale=3.0)
    b = generate(merged, "a photo of sks person", 2, seed=3, steps=3, guidance_scale=3.0)
    assert np.abs(a.astype(int) - plain.astype(int)).max() > 5  # the adapter does something
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1  # float rounding of merged weights only


def test_export_refuses_a_wrong_length_vector(tmp_path):
    layout = AdapterLayout(("x.lora_A.weight",), ((1, 4),))
    with pytest.raises(ValueError, match="4 numbers"):
        export_lora(np.zeros(5, np.float32), layout, lora_config(1, 1.0, ("to_q",)), tmp_path / "out")
    assert not (tmp_path / "out").exists()
