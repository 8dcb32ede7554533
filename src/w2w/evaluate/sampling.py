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

from w2w.evaluate.fleet import Fleet
from w2w.evaluate.render import judged_attributes, render_models
from w2w.params import EvaluateSamplingParams
from w2w.space.basis import Basis
from w2w.space.edit import sample


def consistency(fleet: Fleet, samples: np.ndarray) -> np.ndarray:
    """(M,) mean pairwise cosine of each model's sample embeddings; samples (M, n, S, S, 3)."""
    m, n = samples.shape[:2]
    e = fleet.judge.embed(samples.reshape(m * n, *samples.shape[2:])).reshape(m, n, -1)
    gram = np.einsum("mie,mje->mij", e, e)
    pairs = np.triu_indices(n, 1)
    return gram[:, pairs[0], pairs[1]].clip(-1, 1).mean(1)


def train_identity_embeddings(fleet: Fleet) -> np.ndarray:
    """(T, E) unit mean embedding of each train identity's world renders."""
    rows = np.flatnonzero(~fleet.heldout)
    out = []
    for start in range(0, len(rows), 64):
        images = np.asarray(fleet.images.get_orthogonal_selection((rows[start:start + 64], slice(None))))
        e = fleet.judge.embed(images.reshape(-1, *images.shape[2:])).reshape(len(images), images.shape[1], -1)
        out.append(e.mean(1))
    e = np.concatenate(out)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def novel(fleet: Fleet, samples: np.ndarray, train: np.ndarray, threshold: float) -> np.ndarray:
    """(M, n) bool: the sample's nearest train identity is below the verification threshold."""
    e = fleet.judge.embed(samples.reshape(-1, *samples.shape[2:]))
    return ((e @ train.T).max(1) < threshold).reshape(samples.shape[:2])


def measure_sampling(fleet: Fleet, basis: Basis, p: EvaluateSamplingParams, prompt: str
                     ) -> tuple[dict, np.ndarray]:
    """Metrics and the sampled models' samples (M, n, S, S, 3) for a grid."""
    def render(adapters: np.ndarray, desc: str) -> np.ndarray:
        return render_models(fleet.pipe, adapters, fleet.layout, fleet.scaling, prompt, p.samples_per_model,
                             p.seed, p.sampler_steps, p.guidance_scale, desc=desc)

    sampled = render(sample(basis, p.models, p.seed, p.covariance, p.components), "sampled")
    trained = render(fleet.adapters(fleet.rows(True, p.trained_models)), "trained (held-out)")
    own = render(fleet.adapters(fleet.rows(False, p.trained_models)), "trained (train)")
    train = train_identity_embeddings(fleet)
    threshold = float(fleet.judge.config["verification_threshold"])
    rates, names = judged_attributes(fleet.judge, sampled).mean(0), fleet.judge.attribute_names
    truth = fleet.table.loc[~fleet.heldout, names].to_numpy(dtype=float).mean(0)
    metrics = {
        "consistency_mean": float(consistency(fleet, sampled).mean()),
        "trained_consistency_mean": float(consistency(fleet, trained).mean()),
        "novel_fraction": float(novel(fleet, sampled, train, threshold).mean()),
        "novel_fraction_heldout_models": float(novel(fleet, trained, train, threshold).mean()),
        "novel_fraction_train_models": float(novel(fleet, own, train, threshold).mean()),
        "verification_threshold": threshold,
        "attribute_rate": {a: float(r) for a, r in zip(names, rates, strict=True)},
        "train_attribute_rate": {a: float(r) for a, r in zip(names, truth, strict=True)},
        "attribute_rate_abs_diff_mean": float(np.abs(rates - truth).mean()),
        "models": p.models, "covariance": p.covariance}
    return metrics, sampled
