"""Does an identity's adapter make its identity? Judge similarity of samples to fresh renders.

Each identity's model (the base UNet with its adapter, W + scaling * B A; sampled many at a time by
`w2w.adapters.render`) draws `n` samples with the fine-tuning prompt, and the judge's cosine
similarity between the mean identity embedding of the samples and of fresh renders (a render stream
the adapters never saw) is the score. The base model prompted with the generic caption gives the
chance level.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from diffusers import StableDiffusionPipeline

from w2w.adapters.layout import AdapterLayout
from w2w.adapters.render import render_models
from w2w.adapters.stacked import open_stacked
from w2w.base.pipeline import generate, load_pipeline
from w2w.evaluate.judged import trait_errors, truth_of
from w2w.evaluate.stats import paired, sample_rows, with_ci
from w2w.judge.api import Judge
from w2w.params import EvaluateFinetuneParams
from w2w.world.captions import GENERIC_PROMPT
from w2w.world.references import identity_references


def adapter_similarity(pipe: StableDiffusionPipeline, judge: Judge, rows: np.ndarray, layout: AdapterLayout,
                       scaling: float, renders: np.ndarray, prompt: str, samples: int, seed: int,
                       steps: int, guidance: float, base_unconditional: bool = False
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Similarity (M,) of each row's samples to its identity's renders, and the samples (M, n, ...)."""
    images = render_models(pipe, rows, layout, scaling, prompt, samples, seed, steps, guidance,
                           desc="identity samples", base_unconditional=base_unconditional)
    sims = [judge.identity_similarity(out, ref) for out, ref in zip(images, renders, strict=True)]
    return np.array(sims), images


def base_similarity(pipe: StableDiffusionPipeline, judge: Judge, renders: np.ndarray, prompt: str,
                    samples: int, seed: int, steps: int, guidance: float) -> np.ndarray:
    """Chance level (M,): the base model's samples for `prompt` against each identity's renders."""
    out = generate(pipe, prompt, samples * len(renders), seed, steps, guidance)
    groups = out.reshape(len(renders), samples, *out.shape[1:])
    return np.array([judge.identity_similarity(g, ref) for g, ref in zip(groups, renders, strict=True)])


def measure_fleet(world: Path, judge_dir: Path, base: Path, weights_zarr: Path, p: EvaluateFinetuneParams,
                  prompt: str) -> tuple[dict[str, float], np.ndarray, list[dict]]:
    """Held-out identities' similarity to their own renders, against the base model's chance level.
    Returns the metrics, a grid (for each identity: a fresh render, then its samples) and one row per
    identity (its id and scores), so that any subset of the identities can be scored again."""
    stacked = open_stacked(weights_zarr)
    rows = np.sort(sample_rows(np.asarray(stacked.group["heldout"]), True, p.identities, p.seed))
    table = pd.read_parquet(world / "identities.parquet").iloc[rows]
    renders = identity_references(world, table, p.renders_per_identity, p.seed)
    pipe, judge = load_pipeline(base / "model"), Judge.load(judge_dir)
    adapters = stacked.weights.get_orthogonal_selection((rows, slice(None)))  # (M, D)
    sims, samples = adapter_similarity(pipe, judge, adapters, stacked.layout, stacked.scaling, renders,
                                       prompt, p.samples_per_identity, p.seed, p.sampler_steps,
                                       p.guidance_scale, p.unconditional == "base")
    chance = base_similarity(pipe, judge, renders, GENERIC_PROMPT, p.samples_per_identity, p.seed,
                             p.sampler_steps, p.guidance_scale)
    traits = trait_errors(judge, samples, truth_of(table))
    metrics = {**with_ci("identity_similarity", sims),
               "identity_similarity_p10": float(np.percentile(sims, 10)),
               **with_ci("trait_error", traits),
               **with_ci("base_identity_similarity", chance),
               **paired("similarity_over_base", sims, chance),
               "evaluated_identities": len(rows)}
    grid = np.concatenate([renders[:8, :1], samples[:8]], axis=1)  # (8, 1 + n, S, S, 3)
    per_trait = [None] * len(rows) if traits is None else [float(t) for t in traits]  # photos: no traits
    per_identity = [{"identity_id": int(i), "identity_similarity": float(s), "trait_error": t,
                     "base_identity_similarity": float(c)}
                    for i, s, t, c in zip(table["identity_id"], sims, per_trait, chance, strict=True)]
    return metrics, grid.reshape(-1, *grid.shape[2:]), per_identity
