"""The ceiling ladder: where between a render and a w2w model an identity is lost.

Every rung is a way to produce images of one identity, scored on the same identities against the
same fresh references by both yardsticks: the judge's similarity (higher is better) and the trait
regressor's error in population standard deviations (lower is better; 0 is perfect, about 1.15 a
random other identity). The gaps between consecutive rungs say which part of the pipeline (VAE,
base, fleet, space, inversion) costs how much.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch

from w2w.adapters.render import render_models
from w2w.base.latents import round_trip
from w2w.base.pipeline import generate
from w2w.evaluate.context import Context
from w2w.evaluate.judged import similarities, trait_errors, truth_of
from w2w.evaluate.stats import with_ci
from w2w.params import EvaluateInversionParams
from w2w.space.basis import Basis
from w2w.world.captions import GENERIC_PROMPT, identity_captions
from w2w.world.references import identity_probes, identity_references


@dataclass
class Rung:
    """One rung: per identity (M,), the judge's similarity and the trait error (None: no ground truth)."""

    name: str
    similarity: np.ndarray
    trait_error: np.ndarray | None


def scored(ctx: Context, name: str, images: np.ndarray, references: np.ndarray, truth: np.ndarray | None
           ) -> Rung:
    """images (M, n, S, S, 3) of M identities, against their references (M, r, ...) and traits (M, T)."""
    return Rung(name, similarities(ctx.judge, images, references), trait_errors(ctx.judge, images, truth))


def projected(basis: Basis, adapters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Adapters (M, D) replaced by their projections onto the basis, and each projection's relative
    residual in the standardised space (0: the model lies in the space)."""
    coefficients = basis.to_coefficients(adapters)
    inside = basis.to_weights(coefficients)
    x, xp = basis.standardise(adapters), basis.standardise(inside)
    residual = np.linalg.norm(x - xp, axis=1) / np.maximum(np.linalg.norm(x, axis=1), 1e-12)
    return inside.astype(np.float32), residual


def base_rung(ctx: Context, name: str, prompts: list[str], references: np.ndarray, truth: np.ndarray,
              p: EvaluateInversionParams) -> Rung:
    """The base model without any adapter, one prompt per identity."""
    n = p.samples_per_prompt * len(p.prompts)  # as many samples as every model rung gets
    images = np.stack([generate(ctx.pipe, prompt, n, p.seed, p.sampler_steps, p.guidance_scale)
                       for prompt in prompts])
    return scored(ctx, name, images, references, truth)


def sample_models(ctx: Context, adapters: np.ndarray, p: EvaluateInversionParams, desc: str) -> np.ndarray:
    """Samples (M, n, S, S, 3) of models (M, D) with the inversion's prompts and seeds: what every
    model rung, and the inversion's own models, are judged on."""
    return np.concatenate([render_models(ctx.pipe, adapters, ctx.layout, ctx.scaling, prompt,
                                         p.samples_per_prompt, p.seed, p.sampler_steps, p.guidance_scale,
                                         desc=desc, base_unconditional=p.unconditional == "base")
                           for prompt in p.prompts], 1)


def model_rung(ctx: Context, name: str, adapters: np.ndarray, references: np.ndarray, truth: np.ndarray,
               p: EvaluateInversionParams) -> Rung:
    """Models (M, D) sampled with the inversion's prompts and seeds."""
    return scored(ctx, name, sample_models(ctx, adapters, p, name), references, truth)


@torch.no_grad()
def lower_rungs(ctx: Context, basis: Basis, held: np.ndarray, train: np.ndarray,
                p: EvaluateInversionParams) -> tuple[list[Rung], dict]:
    """The rungs below the inversions, for held-out rows `held` (and train rows `train` for the
    train fleet models); also the projection's relative residuals."""
    table, train_table = ctx.table.iloc[held], ctx.table.iloc[train]
    references = identity_references(ctx.world, table, p.renders_per_identity, p.seed)
    truth = truth_of(table)
    probes = identity_probes(ctx.world, table, p.renders_per_identity, p.seed + 1)
    trips = round_trip(ctx.pipe.vae, probes.reshape(-1, *probes.shape[2:])).reshape(probes.shape)
    captions = identity_captions(ctx.world, table)
    inside, residual = projected(basis, ctx.adapters(held))
    train_refs = identity_references(ctx.world, train_table, p.renders_per_identity, p.seed)
    rungs = [
        scored(ctx, "fresh renders (ceiling)", probes, references, truth),
        scored(ctx, "renders through the VAE", trips, references, truth),
        base_rung(ctx, "base with the identity's caption", captions, references, truth, p),
        model_rung(ctx, "fleet model (train identity)", ctx.adapters(train), train_refs,
                   truth_of(train_table), p),
        model_rung(ctx, "fleet model projected onto the basis", inside, references, truth, p),
        base_rung(ctx, "base with the generic prompt (floor)", [GENERIC_PROMPT] * len(held), references,
                  truth, p),
    ]
    return rungs, with_ci("projection_relative_residual", residual)


ORDER = ("fresh renders (ceiling)", "one render (the single-image input)", "renders through the VAE",
         "fleet model (train identity)", "fleet model (held-out identity)",
         "fleet model projected onto the basis", "single-image LoRA", "w2w inversion",
         "the occluded render (part of the person hidden)", "single-image LoRA from the occluded render",
         "w2w inversion from the occluded render",
         "the painting (the out-of-distribution input)", "single-image LoRA from the painting",
         "w2w inversion from the painting", "base with the identity's caption")


def ladder(rungs: list[Rung], extra: dict, seed: int = 0) -> tuple[dict, list[dict]]:
    """metrics/ladder.json (rungs in ORDER, then any others, the floor last) and the plot's rows."""
    order = {name: i for i, name in enumerate(ORDER)}
    ranked = sorted(rungs, key=lambda r: (order.get(r.name, len(ORDER)), "floor" in r.name))
    entries = [{"rung": r.name, "key": re.sub(r"[^a-z0-9]+", "_", r.name.lower()).strip("_"),
                "identities": len(r.similarity),
                **with_ci("similarity", r.similarity, seed), **with_ci("trait_error", r.trait_error, seed)}
               for r in ranked]
    rows = [{"rung": e["rung"], "similarity": e["similarity_mean"],
             "similarity_lo": e["similarity_mean_ci"][0], "similarity_hi": e["similarity_mean_ci"][1],
             "trait_error": e.get("trait_error_mean"),   # None (an empty cell): no ground truth
             "trait_error_lo": e.get("trait_error_mean_ci", [None, None])[0],
             "trait_error_hi": e.get("trait_error_mean_ci", [None, None])[1]} for e in entries]
    return {"rungs": entries, **extra}, rows
