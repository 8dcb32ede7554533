"""The identity share: how much of an adapter is the person, and how much the images it saw.

Two adapters of one identity, each trained with the fleet's recipe from the shared initialisation on
its own half of a set of fresh renders (disjoint nuisance draws, and separate noise and timestep
draws), are compared by cosine after standardising every parameter over all the adapters. Different
identities give the control, about +0.03 at 24 identities: the estimator's own offset. A space made
of adapters can span new identities only as far as the adapters are about the person.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from diffusers import StableDiffusionPipeline

from w2w.adapters.layout import AdapterLayout
from w2w.base.latents import encode_images
from w2w.base.model import encode_prompts, training_scheduler
from w2w.evaluate.stats import with_ci
from w2w.fleet.config import fleet_config
from w2w.fleet.prior import load_class_prior, make_class_prior
from w2w.fleet.train import train_identities
from w2w.params import FinetuneParams
from w2w.world.mask import identity_probe_masks
from w2w.world.references import identity_probes

OTHER_HALF = 1_000_000  # offsets the second adapter's generator: its own noise and timesteps


def train_adapters(pipe: StableDiffusionPipeline, latents: torch.Tensor, ids: list[int], p: FinetuneParams,
                   prior: tuple[torch.Tensor, torch.Tensor] | None = None, masks: torch.Tensor | None = None
                   ) -> tuple[np.ndarray, AdapterLayout]:
    """(K, D) flattened adapters of latents (K, n, C, h, w), trained as the fleet trains,
    `p.identities_per_shard` identities at a time, and their layout; `masks` (K, n, S, S) are the
    images' person masks, needed when `p.background_weight` < 1."""
    context = encode_prompts(pipe.text_encoder, pipe.tokenizer, [p.prompt])[0]
    block, out = p.identities_per_shard, []
    for s in range(0, len(ids), block):
        weights, _ = train_identities(pipe.unet, training_scheduler(), latents[s:s + block], ids[s:s + block],
                                      context, fleet_config(p), prior,
                                      None if masks is None else masks[s:s + block])
        layout = AdapterLayout.from_weights(weights, True)
        out.append(layout.flatten(weights, True))
    return np.concatenate(out), layout


def adapter_cosines(a: np.ndarray, b: np.ndarray, scaled: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Per identity (M,): the cosine of its two adapters a[i], b[i] (M, D), and the mean cosine of its
    first adapter with the others' second. Every parameter is scaled by its sd over all 2M adapters
    (unless `scaled` is False) and centred on the mean of the other identities' adapters only:
    centring on a mean that includes the pair would pull both cosines down by about 1/M."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    both = np.concatenate([a, b])
    sd = np.where(both.std(0) > 1e-12, both.std(0), 1.0) if scaled else np.ones(both.shape[1])
    total, m = both.sum(0), len(a)
    if m < 3:
        raise ValueError(f"the identity share needs at least 3 identities, got {m}")

    def cosine(x: np.ndarray, y: np.ndarray, mean: np.ndarray) -> float:
        x, y = (x - mean) / sd, (y - mean) / sd
        return float(x @ y / max(np.linalg.norm(x) * np.linalg.norm(y), 1e-30))

    same = np.array([cosine(a[i], b[i], (total - a[i] - b[i]) / (2 * m - 2)) for i in range(m)])
    others = np.array([np.mean([cosine(a[i], b[j], (total - a[i] - b[i] - a[j] - b[j]) / (2 * m - 4))
                                for j in range(m) if j != i]) for i in range(m)])
    return same, others


@torch.no_grad()
def encode_renders(pipe: StableDiffusionPipeline, images: np.ndarray) -> torch.Tensor:
    """uint8 (M, n, S, S, 3) -> latents (M, n, C, h, w)."""
    latents = torch.from_numpy(encode_images(pipe.vae, images.reshape(-1, *images.shape[2:])))
    return latents.unflatten(0, images.shape[:2])


def train_halves(pipe: StableDiffusionPipeline, base: Path, first: torch.Tensor, second: torch.Tensor,
                 ids: list[int], p: FinetuneParams, first_masks: torch.Tensor | None = None,
                 second_masks: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Two (M, D) adapters per identity, on latents `first` and `second` (M, n, C, h, w), each half
    with its own noise and timestep draws; with prior preservation on, the base folder `base` makes
    the class prior as the fleet does. The masks (M, n, S, S) are the halves' person masks."""
    pipe.unet.requires_grad_(False)
    with tempfile.TemporaryDirectory() as tmp:
        prior = load_class_prior(str(make_class_prior(base, Path(tmp), p) or ""), "cpu")
        a, _ = train_adapters(pipe, first, ids, p, prior, first_masks)
        b, _ = train_adapters(pipe, second, [i + OTHER_HALF for i in ids], p, prior, second_masks)
    return a, b


def identity_share(pipe: StableDiffusionPipeline, base: Path, world: Path, table: pd.DataFrame,
                   renders_per_half: int, seed: int, p: FinetuneParams) -> dict[str, float | list[float]]:
    """The identity share of the table's identities with 95 % CIs, and the different-identities control.

    Each identity gets 2 x renders_per_half images (`identity_probes`: fresh renders of the seed's
    stream in the miniature world, the photos its LoRA trains on from a folder), and with a loss
    weighted to the person, their person masks."""
    n = renders_per_half
    images = identity_probes(world, table, 2 * n, seed)                     # (M, 2n, S, S, 3)
    latents = encode_renders(pipe, images)
    first_masks = second_masks = None
    if p.background_weight < 1:
        masks = torch.from_numpy(identity_probe_masks(world, table, 2 * n, seed))  # (M, 2n, S, S)
        first_masks, second_masks = masks[:, :n], masks[:, n:]
    ids = table["identity_id"].astype(int).tolist()
    a, b = train_halves(pipe, base, latents[:, :n], latents[:, n:], ids, p, first_masks, second_masks)
    same, others = adapter_cosines(a, b)
    return {**with_ci("identity_share", same), **with_ci("identity_share_other_identities", others),
            "identity_share_identities": len(ids), "identity_share_renders_per_half": renders_per_half}
