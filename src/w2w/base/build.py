"""The `base` stage's library: train the miniature base or import a pretrained one, and cache
latents (its measurement is w2w.evaluate.base).

`base` output folder layout:
    model/              a standard diffusers StableDiffusionPipeline folder
    latents.zarr/       the latent cache (see w2w.base.latents)
    train_summary.json  figures of the training itself (VAE PSNR, prompt separation)
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import zarr

from w2w.base.autoencoder import psnr, train_vae
from w2w.base.denoiser import train_unet
from w2w.base.latents import cache_latents
from w2w.base.model import (
    build_text_encoder,
    build_unet,
    encode_prompts,
    prompt_separation,
    sampling_scheduler,
)
from w2w.base.pipeline import assemble_pipeline, load_pipeline
from w2w.base.tokenizer import build_clip_tokenizer
from w2w.errors import InputError
from w2w.params import BaseParams
from w2w.world.captions import GENERIC_PROMPT, identity_captions, vocabulary

EXTRA_WORDS = ["sks", "person", "a", "photo", "of"]  # fine-tuning and class prompts
Log = Callable[[int, dict], None]


def open_world(world: Path) -> tuple[pd.DataFrame, zarr.Array, np.ndarray]:
    table = pd.read_parquet(world / "identities.parquet")
    images = zarr.open_group(world / "images.zarr", mode="r")["images"]
    return table, images, (table["split"] == "train").to_numpy()


def train_miniature(world: Path, p: BaseParams, out: Path, log: Log) -> dict[str, float]:
    """Train VAE, then UNet on the train identities' cached latents; save the pipeline folder."""
    table, images, train = open_world(world)
    pixels = np.asarray(images[:])  # (N, K, S, S, 3), read once
    vae = train_vae(pixels[train].reshape(-1, *pixels.shape[2:]), p, log)
    metrics = {"vae_psnr_heldout": psnr(vae, pixels[~train].reshape(-1, *pixels.shape[2:]))}
    captions = identity_captions(world, table)
    words = vocabulary([GENERIC_PROMPT, *captions, *EXTRA_WORDS])
    scratch = out / "tokenizer.build"
    tokenizer = build_clip_tokenizer(words, scratch)
    text_encoder = build_text_encoder(p, tokenizer)
    embeddings = encode_prompts(text_encoder, tokenizer, ["", GENERIC_PROMPT, *captions])
    unique = sorted({"", GENERIC_PROMPT, *captions})
    metrics["prompt_separation"] = prompt_separation(encode_prompts(text_encoder, tokenizer, unique))
    latents = np.asarray(cache_latents(vae, images, out / "latents.zarr", 64)[:])
    per_identity = latents.shape[1]  # latents (images) of each identity
    train_latents = torch.from_numpy(latents[train].reshape(-1, *latents.shape[2:]))
    caption_idx = np.repeat(np.flatnonzero(train), per_identity)
    unet = build_unet(p, latents.shape[-1])
    unet = train_unet(unet, train_latents, caption_idx, embeddings, p, log)
    pipe = assemble_pipeline(vae, text_encoder, tokenizer, unet, sampling_scheduler())
    pipe.save_pretrained(out / "model", safe_serialization=True)
    shutil.rmtree(scratch)
    return metrics


def import_pretrained(world: Path, p: BaseParams, out: Path) -> dict[str, float]:
    """Load `p.pretrained` with the strict loader, keep a copy, and cache the world's latents."""
    if not p.pretrained:
        raise InputError("base.pretrained: must name a hub id or a local folder when source is pretrained")
    pipe = load_pipeline(p.pretrained)
    pipe.save_pretrained(out / "model", safe_serialization=True)
    _, images, _ = open_world(world)
    cache_latents(pipe.vae, images, out / "latents.zarr", 64)
    return {}
