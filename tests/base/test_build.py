"""Both `base.source` values, end to end at micro scale."""

import numpy as np
import pytest
import torch
import zarr
from committed import section

from w2w.base.build import import_pretrained, train_miniature
from w2w.base.latents import encode_images
from w2w.base.pipeline import load_pipeline
from w2w.evaluate.base import measure_base
from w2w.judge.api import Judge
from w2w.judge.model import JudgeNet
from w2w.world.identity import ATTRIBUTES

MICRO = dict(vae_steps=3, unet_steps=3, vae_batch_size=4, unet_batch_size=4)
EVAL = section("evaluate_base", prompts=2, samples_per_prompt=2, sampler_steps=2)


@pytest.fixture(scope="module")
def judge_dir(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("judge")
    config = {"attributes": list(ATTRIBUTES), "width": 4, "embedding_dim": 8, "image_size": 32}
    Judge(JudgeNet(len(ATTRIBUTES), 4, 8, 32), config).save(folder)
    return folder


def check_measured(metrics):
    assert 0.0 <= metrics["prompt_attribute_fidelity"] <= metrics["prompt_attribute_agreement"] <= 1.0
    assert metrics["samples"] == 4 and metrics["heldout_denoising_loss"] > 0


def test_miniature_source_trains_saves_and_measures(micro_world, judge_dir, tmp_path):
    p = section("base", **MICRO)
    metrics = train_miniature(micro_world, p, tmp_path, log=lambda step, m: None)
    assert metrics["prompt_separation"] > 0  # distinct prompts stay distinguishable
    pipe = load_pipeline(tmp_path / "model")
    assert "sks</w>" in pipe.tokenizer.get_vocab()
    latents = zarr.open_group(tmp_path / "latents.zarr", mode="r")["latents"]
    images = zarr.open_group(micro_world / "images.zarr", mode="r")["images"]
    assert latents.shape == (*images.shape[:2], p.latent_channels, 8, 8)
    check_measured(measure_base(micro_world, judge_dir, tmp_path, EVAL, tmp_path / "grid.png"))
    assert (tmp_path / "grid.png").exists()


def test_pretrained_source_goes_through_from_pretrained(micro_world, judge_dir, tiny_pipeline, tmp_path):
    p = section("base", source="pretrained", pretrained=str(tiny_pipeline[1]), **MICRO)
    import_pretrained(micro_world, p, tmp_path)
    loaded = load_pipeline(tmp_path / "model")
    first = zarr.open_group(micro_world / "images.zarr", mode="r")["images"][:1, 0]
    cached = zarr.open_group(tmp_path / "latents.zarr", mode="r")["latents"][:1, 0]
    assert np.allclose(cached, encode_images(loaded.vae, np.asarray(first)), atol=1e-6)
    check_measured(measure_base(micro_world, judge_dir, tmp_path, EVAL, tmp_path / "grid.png"))


def test_pretrained_source_needs_a_name(micro_world, tmp_path):
    with pytest.raises(ValueError, match="base.pretrained"):
        import_pretrained(micro_world, section("base", source="pretrained"), tmp_path)
