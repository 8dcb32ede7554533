"""A tiny, untrained SD-style pipeline folder, built from the same classes as the real base."""

from __future__ import annotations

from pathlib import Path

import pytest

from w2w.base.autoencoder import build_vae
from w2w.base.model import build_text_encoder, build_unet, sampling_scheduler
from w2w.base.pipeline import assemble_pipeline
from w2w.base.tokenizer import build_clip_tokenizer
from w2w.params import BaseParams

TINY = BaseParams(vae_channels=[8, 16, 16], unet_channels=[16, 32], text_dim=16)
WORDS = ["a", "photo", "of", "person", "man", "woman", "with", "eyeglasses", "sks"]


def build_tiny_pipeline(folder: Path):
    tokenizer = build_clip_tokenizer(WORDS, folder / "tok.build")
    pipe = assemble_pipeline(build_vae(TINY, 32), build_text_encoder(TINY, tokenizer), tokenizer,
                             build_unet(TINY, 8), sampling_scheduler())
    pipe.save_pretrained(folder / "model", safe_serialization=True)
    return pipe


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    return build_tiny_pipeline(folder), folder / "model"
