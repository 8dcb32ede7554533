"""The `base` and `evaluate_base` stages' library: train the miniature base or import a
pretrained one, cache latents, and measure the result.

`base` output folder layout:
    model/              a standard diffusers StableDiffusionPipeline folder
    latents.zarr/       the latent cache (see w2w.base.latents)
    train_summary.json  figures of the training itself (VAE PSNR, prompt separation)
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import zarr
from PIL import Image

from w2w.base.autoencoder import psnr, train_vae
from w2w.base.denoiser import heldout_loss, train_unet
from w2w.base.evaluate import prompt_fidelity
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
from w2w.judge.api import Judge
from w2w.params import BaseParams, EvaluateBaseParams
from w2w.world.captions import GENERIC_PROMPT, caption_for, vocabulary
from w2w.world.dataset import contact_sheet, identities_from_table

EXTRA_WORDS = ["sks", "person", "a", "photo", "of"]  # fine-tuning and class prompts
Log = Callable[[int, dict], None]


def _world(world: Path) -> tuple[pd.DataFrame, zarr.Array, np.ndarray]:
    table = pd.read_parquet(world / "identities.parquet")
    images = zarr.open_group(world / "images.zarr", mode="r")["images"]
    return table, images, (table["split"] == "train").to_numpy()


def identity_captions(table: pd.DataFrame) -> list[str]:
    return [caption_for(i.attributes) for i in identities_from_table(table)]


def train_miniature(world: Path, p: BaseParams, out: Path, log: Log) -> dict[str, float]:
    """Train VAE, then UNet on the train identities' cached latents; save the pipeline folder."""
    table, images, train = _world(world)
    pixels = np.asarray(images[:])  # (N, K, S, S, 3), read once
    vae = train_vae(pixels[train].reshape(-1, *pixels.shape[2:]), p, log)
    metrics = {"vae_psnr_heldout": psnr(vae, pixels[~train].reshape(-1, *pixels.shape[2:]))}
    captions = identity_captions(table)
    words = vocabulary([GENERIC_PROMPT, *captions, *EXTRA_WORDS])
    scratch = out / "tokenizer.build"
    tokenizer = build_clip_tokenizer(words, scratch)
    text_encoder = build_text_encoder(p, tokenizer)
    embeddings = encode_prompts(text_encoder, tokenizer, ["", GENERIC_PROMPT, *captions])
    unique = sorted({"", GENERIC_PROMPT, *captions})
    metrics["prompt_separation"] = prompt_separation(encode_prompts(text_encoder, tokenizer, unique))
    latents = np.asarray(cache_latents(vae, images, out / "latents.zarr", 64)[:])
    k = latents.shape[1]
    train_latents = torch.from_numpy(latents[train].reshape(-1, *latents.shape[2:]))
    caption_idx = np.repeat(np.flatnonzero(train), k)
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
    _, images, _ = _world(world)
    cache_latents(pipe.vae, images, out / "latents.zarr", 64)
    return {}


def measure_base(world: Path, judge_dir: Path, base: Path, p: EvaluateBaseParams, grid: Path
                 ) -> dict[str, float]:
    """Reload the saved folder strictly, then: prompt fidelity, held-out loss, sample grid."""
    pipe = load_pipeline(base / "model")
    table, _, train = _world(world)
    heldout = table[~train].reset_index(drop=True)
    judge = Judge.load(judge_dir)
    chosen = heldout.iloc[: p.prompts]
    start = time.perf_counter()
    metrics, images = prompt_fidelity(pipe, judge, chosen, p.samples_per_prompt,
                                      p.sampler_steps, p.guidance_scale, p.seed)
    metrics["generation_s_per_image"] = (time.perf_counter() - start) / len(images)
    rows, cols = min(8, len(chosen)), p.samples_per_prompt
    contact_sheet(images[: rows * cols], rows, cols).resize(
        (cols * 96, rows * 96), Image.Resampling.NEAREST).save(grid)
    latents = zarr.open_group(base / "latents.zarr", mode="r")["latents"]
    held_latents = torch.from_numpy(np.asarray(latents[:])[~train])
    k = held_latents.shape[1]
    context = encode_prompts(pipe.text_encoder, pipe.tokenizer, identity_captions(heldout))
    metrics["heldout_denoising_loss"] = heldout_loss(
        pipe.unet, held_latents.flatten(0, 1), context.repeat_interleave(k, 0), p.seed)
    return metrics
