"""New identities sampled from the space: are they consistent, new, and plausibly distributed?

- consistency: the mean judge cosine between a model's samples (all pairs of seeds), for sampled
  models and, as the yardstick, for trained (held-out fleet) models;
- novelty: a sample is new when its nearest train identity (by the judge's cosine to the mean
  embedding of that identity's renders) lies below the judge's verification threshold. Train
  identities' own fleet models are scored the same way, as a control that the test can fail;
- attributes: the judged attribute rates of the sampled models against the train set's rates.
"""

from __future__ import annotations

import numpy as np

from w2w.adapters.render import render_models
from w2w.evaluate.context import Context
from w2w.evaluate.judged import judged_attributes
from w2w.params import EvaluateSamplingParams
from w2w.space.basis import Basis
from w2w.space.edit import sample


def consistency(ctx: Context, samples: np.ndarray) -> np.ndarray:
    """(M,) mean pairwise cosine of each model's sample embeddings; samples (M, n, S, S, 3)."""
    m, n = samples.shape[:2]
    e = ctx.judge.embed(samples.reshape(m * n, *samples.shape[2:])).reshape(m, n, -1)
    gram = np.einsum("mie,mje->mij", e, e)
    pairs = np.triu_indices(n, 1)
    return gram[:, pairs[0], pairs[1]].clip(-1, 1).mean(1)


def train_identity_embeddings(ctx: Context) -> np.ndarray:
    """(T, E) unit mean embedding of each train identity's world renders."""
    rows = np.flatnonzero(~ctx.heldout)
    out = []
    for start in range(0, len(rows), 64):
        images = np.asarray(ctx.images.get_orthogonal_selection((rows[start:start + 64], slice(None))))
        e = ctx.judge.embed(images.reshape(-1, *images.shape[2:])).reshape(len(images), images.shape[1], -1)
        out.append(e.mean(1))
    e = np.concatenate(out)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def novel(ctx: Context, samples: np.ndarray, train: np.ndarray, threshold: float) -> np.ndarray:
    """(M, n) bool: the sample's nearest train identity is below the verification threshold."""
    e = ctx.judge.embed(samples.reshape(-1, *samples.shape[2:]))
    return ((e @ train.T).max(1) < threshold).reshape(samples.shape[:2])


def measure_sampling(ctx: Context, basis: Basis, p: EvaluateSamplingParams, prompt: str
                     ) -> tuple[dict, np.ndarray]:
    """Metrics and the sampled models' samples (M, n, S, S, 3) for a grid."""
    def render(adapters: np.ndarray, desc: str) -> np.ndarray:
        return render_models(ctx.pipe, adapters, ctx.layout, ctx.scaling, prompt, p.samples_per_model,
                             p.seed, p.sampler_steps, p.guidance_scale, desc=desc)

    sampled = render(sample(basis, p.models, p.seed, p.covariance, p.components), "sampled")
    trained = render(ctx.adapters(ctx.rows(True, p.trained_models)), "trained (held-out)")
    own = render(ctx.adapters(ctx.rows(False, p.trained_models)), "trained (train)")
    train = train_identity_embeddings(ctx)
    threshold = float(ctx.judge.config["verification_threshold"])
    rates, names = judged_attributes(ctx.judge, sampled).mean(0), ctx.judge.attribute_names
    truth = ctx.table.loc[~ctx.heldout, names].to_numpy(dtype=float).mean(0)
    metrics = {
        "consistency_mean": float(consistency(ctx, sampled).mean()),
        "trained_consistency_mean": float(consistency(ctx, trained).mean()),
        "novel_fraction": float(novel(ctx, sampled, train, threshold).mean()),
        "novel_fraction_heldout_models": float(novel(ctx, trained, train, threshold).mean()),
        "novel_fraction_train_models": float(novel(ctx, own, train, threshold).mean()),
        "verification_threshold": threshold,
        "attribute_rate": {a: float(r) for a, r in zip(names, rates, strict=True)},
        "train_attribute_rate": {a: float(r) for a, r in zip(names, truth, strict=True)},
        "attribute_rate_abs_diff_mean": float(np.abs(rates - truth).mean()),
        "models": p.models, "covariance": p.covariance}
    return metrics, sampled
