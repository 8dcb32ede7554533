"""The latent cache: every world image encoded once, so fleet training never runs the VAE.

`latents.zarr` holds `latents` (N, K, 4, h, w) float32 = VAE posterior mean * scaling_factor,
row order = identities.parquet, and attrs `scaling_factor`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import zarr
from diffusers import AutoencoderKL
from PIL import Image
from tqdm import tqdm

from w2w.base.autoencoder import to_pixels
from w2w.storage import COMPRESSORS


def resize_to(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 (B, S, S, 3) resized to the model's resolution when it differs."""
    if images.shape[1] == size:
        return images
    return np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.Resampling.BICUBIC))
                     for im in images])


@torch.no_grad()
def encode_images(vae: AutoencoderKL, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """uint8 (B, S, S, 3) -> scaled latent means (B, 4, h, w) float32."""
    size = int(vae.config.sample_size)
    out = []
    for start in range(0, len(images), batch):
        x = to_pixels(resize_to(images[start:start + batch], size))
        out.append((vae.encode(x).latent_dist.mean * vae.config.scaling_factor).numpy())
    return np.concatenate(out).astype(np.float32)


@torch.no_grad()
def round_trip(vae: AutoencoderKL, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """uint8 (B, S, S, 3) -> the same images encoded to latent means and decoded again: what any
    model that generates through this VAE can at best reproduce of them."""
    out = []
    for start in range(0, len(images), batch):
        scaled = torch.from_numpy(encode_images(vae, images[start:start + batch]))
        latents = scaled / vae.config.scaling_factor
        x = vae.decode(latents).sample.clamp(-1, 1)
        out.append(((x.permute(0, 2, 3, 1).numpy() + 1) * 127.5).round().astype(np.uint8))
    return resize_to(np.concatenate(out), images.shape[1])


def cache_latents(vae: AutoencoderKL, images: zarr.Array, out: Path, block: int) -> zarr.Array:
    """Encode a (N, K, S, S, 3) image array block by block into out/latents.zarr."""
    n, per_identity = images.shape[:2]
    first = encode_images(vae, np.asarray(images[:1, 0]))
    group = zarr.open_group(out, mode="w", zarr_format=3)
    group.attrs["scaling_factor"] = float(vae.config.scaling_factor)
    array = group.create_array("latents", shape=(n, per_identity, *first.shape[1:]), dtype="float32",
                               chunks=(block, per_identity, *first.shape[1:]), compressors=COMPRESSORS)
    for start in tqdm(range(0, n, block), desc="base latents", unit="block"):
        chunk = np.asarray(images[start:start + block])
        flat = encode_images(vae, chunk.reshape(-1, *chunk.shape[2:]))
        array[start:start + len(chunk)] = flat.reshape(len(chunk), per_identity, *flat.shape[1:])
    return array
