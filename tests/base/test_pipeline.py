import numpy as np
import pytest
import torch
from peft import LoraConfig
from safetensors.torch import load_file, save_file

from w2w.base.pipeline import IncompleteModelError, generate, load_lora, load_pipeline


def test_round_trip_reproduces_outputs_exactly(tiny_pipeline):
    pipe, folder = tiny_pipeline
    pipe.set_progress_bar_config(disable=True)
    before = generate(pipe, "a photo of a man", 3, seed=5, steps=4, guidance_scale=3.0)
    after = generate(load_pipeline(folder), "a photo of a man", 3, seed=5, steps=4, guidance_scale=3.0)
    assert before.shape == (3, 32, 32, 3) and before.dtype == np.uint8
    assert np.array_equal(before, after)


def test_generation_is_deterministic_per_seed(tiny_pipeline):
    pipe = load_pipeline(tiny_pipeline[1])
    a = generate(pipe, "a photo of a woman", 2, seed=1, steps=3, guidance_scale=2.0)
    b = generate(pipe, "a photo of a woman", 2, seed=1, steps=3, guidance_scale=2.0)
    c = generate(pipe, "a photo of a woman", 2, seed=2, steps=3, guidance_scale=2.0)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def copy_model(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_missing_weight_fails_loading(tiny_pipeline, tmp_path):
    folder = copy_model(tiny_pipeline[1], tmp_path / "model")
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    state = load_file(weights)
    dropped = next(k for k in state if "attn1.to_q" in k)
    del state[dropped]
    save_file(state, weights)
    with pytest.raises(IncompleteModelError, match="1 weights missing"):
        load_pipeline(folder)


def test_unet_saved_with_adapter_attached_is_refused(tiny_pipeline, tmp_path):
    folder = copy_model(tiny_pipeline[1], tmp_path / "model")
    pipe = load_pipeline(folder)
    pipe.unet.add_adapter(LoraConfig(r=1, lora_alpha=1, target_modules=["to_q", "to_v"]))
    pipe.unet.save_pretrained(folder / "unet")  # the known trap: writes base_layer keys
    with pytest.raises(IncompleteModelError, match="base_layer"):
        load_pipeline(folder)


def test_not_a_pipeline_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model_index.json"):
        load_pipeline(tmp_path)


def test_lora_changes_samples_and_bad_lora_is_refused(tiny_pipeline, tmp_path):
    pipe = load_pipeline(tiny_pipeline[1])
    plain = generate(pipe, "a photo of sks person", 2, seed=0, steps=3, guidance_scale=3.0)
    pipe.unet.add_adapter(LoraConfig(r=1, lora_alpha=1, target_modules=["to_q", "to_v"],
                                     init_lora_weights=False))  # random A and B: a real change
    pipe.unet.save_lora_adapter(tmp_path / "lora", weight_name="pytorch_lora_weights.safetensors")
    fresh = load_pipeline(tiny_pipeline[1])
    load_lora(fresh, tmp_path / "lora")
    with_lora = generate(fresh, "a photo of sks person", 2, seed=0, steps=3, guidance_scale=3.0)
    assert not np.array_equal(plain, with_lora)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="not a loadable LoRA"):
        load_lora(load_pipeline(tiny_pipeline[1]), bad)
    torch.manual_seed(0)
