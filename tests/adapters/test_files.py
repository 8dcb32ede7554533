"""An exported LoRA loads in stock diffusers (both of its loaders) and in peft, each giving what the
project's own merged path gives; a LoRA that stock diffusers saved reads back exactly."""

import json

import numpy as np
import pytest
from peft import LoraConfig, inject_adapter_in_model, set_peft_model_state_dict
from safetensors import safe_open
from stock import save_stock_lora

from w2w.adapters.files import LORA_WEIGHTS, export_lora, loaded_adapter_vector, lora_config
from w2w.adapters.layout import AdapterLayout
from w2w.adapters.lora import layout_for
from w2w.adapters.merge import merge_lora
from w2w.base.pipeline import generate, load_lora, load_pipeline

PROMPT = "a photo of sks person"


def random_adapter(unet, rank=1, seed=0):
    layout = layout_for(unet, ("to_q", "to_v"), rank)
    return layout, np.random.default_rng(seed).normal(0, 0.3, layout.dim).astype(np.float32)


def samples(pipe) -> np.ndarray:
    return generate(pipe, PROMPT, 2, seed=3, steps=3, guidance_scale=3.0).astype(int)


def load_with_diffusers(pipe, folder) -> None:
    pipe.load_lora_weights(str(folder), weight_name=LORA_WEIGHTS)


def load_with_unet_adapter(pipe, folder) -> None:
    pipe.unet.load_lora_adapter(str(folder), weight_name=LORA_WEIGHTS, prefix="unet")


def load_with_peft(pipe, folder) -> None:
    with safe_open(folder / LORA_WEIGHTS, "pt") as f:
        names = f.keys()
        weights = {k.removeprefix("unet."): f.get_tensor(k) for k in names}
    inject_adapter_in_model(LoraConfig.from_pretrained(str(folder)), pipe.unet)
    assert not set_peft_model_state_dict(pipe.unet, weights).unexpected_keys


@pytest.mark.parametrize("load", [load_with_diffusers, load_with_unet_adapter, load_with_peft])
def test_stock_loaders_load_the_export_and_match_the_merged_path(tiny_pipeline, tmp_path, load):
    folder = tiny_pipeline[1]
    stock = load_pipeline(folder)
    layout, vector = random_adapter(stock.unet)
    config = lora_config(rank=1, alpha=4.0, targets=("to_q", "to_v"))
    weights_file = export_lora(vector, layout, config, tmp_path / "lora")
    assert json.loads((tmp_path / "lora" / "adapter_config.json").read_text())["lora_alpha"] == 4.0
    with safe_open(weights_file, "pt") as f:  # diffusers' save_lora_weights format
        assert sorted(f.keys()) == sorted(f"unet.{k}" for k in layout.keys)
        assert json.loads(f.metadata()["lora_adapter_metadata"])["unet.lora_alpha"] == 4.0
    load(stock, tmp_path / "lora")
    merged = load_pipeline(folder)
    merge_lora(merged.unet, layout.unflatten(vector), scaling=4.0)
    plain, a, b = samples(load_pipeline(folder)), samples(stock), samples(merged)
    assert np.abs(a - plain).max() > 5  # the adapter does something
    assert np.abs(a - b).max() <= 1  # float rounding of merged weights only


def test_export_refuses_a_wrong_length_vector(tmp_path):
    layout = AdapterLayout(("x.lora_A.weight",), ((1, 4),))
    with pytest.raises(ValueError, match="4 numbers"):
        export_lora(np.zeros(5, np.float32), layout, lora_config(1, 1.0, ("to_q",)), tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("file_alpha, diffusers_names", [(4.0, False), (1.0, True)])
def test_a_lora_saved_by_stock_diffusers_reads_back_as_the_same_model(tiny_pipeline, tmp_path, file_alpha,
                                                                       diffusers_names):
    peft_wrapped = load_pipeline(tiny_pipeline[1]).unet
    layout, vector = random_adapter(peft_wrapped)
    save_stock_lora(peft_wrapped, layout, vector, tmp_path / "stock", 4.0, file_alpha, diffusers_names)
    pipe = load_pipeline(tiny_pipeline[1])
    load_lora(pipe, tmp_path / "stock", adapter_name="read")
    read = loaded_adapter_vector(pipe.unet, "read", layout, rank=1, alpha=4.0)
    np.testing.assert_allclose(read, vector, rtol=1e-6, atol=1e-7)


def test_a_lora_of_other_layers_or_rank_is_refused(tiny_pipeline):
    pipe = load_pipeline(tiny_pipeline[1])
    layout, _ = random_adapter(pipe.unet)
    pipe.unet.add_adapter(LoraConfig(r=2, lora_alpha=2, target_modules=["to_q", "to_v"]), adapter_name="r2")
    with pytest.raises(ValueError, match="has rank 2; the space's adapters have rank 1"):
        loaded_adapter_vector(pipe.unet, "r2", layout, rank=1, alpha=4.0)
    pipe.unet.add_adapter(LoraConfig(r=1, lora_alpha=1, target_modules=["to_k", "to_q", "to_v"]),
                          adapter_name="k")
    with pytest.raises(ValueError, match="adapts .* layers outside the space's layout"):
        loaded_adapter_vector(pipe.unet, "k", layout, rank=1, alpha=4.0)
    pipe.unet.add_adapter(LoraConfig(r=1, lora_alpha=1, target_modules=["to_q"]), adapter_name="q")
    with pytest.raises(ValueError, match="does not adapt .*to_v"):
        loaded_adapter_vector(pipe.unet, "q", layout, rank=1, alpha=4.0)
