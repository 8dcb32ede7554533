"""New identities sampled from the space: are they consistent, new, and plausibly distributed?

- consistency: the mean judge cosine between a model's samples (all pairs of seeds), for sampled
  models and, as the yardstick, for trained (held-out fleet) models;
- novelty: a model is new when its nearest train identity (the judge's cosine of its samples' mean
  embedding to the mean embedding of that identity's renders) lies below a threshold calibrated on
  train identities' fleet models, left out of the gallery (novel) or in it (seen); held-out and
  train fleet models are scored the same way, as controls that show whether the rule works;
- attributes: the judged attribute rates of the sampled models against the train set's rates;
- realistic: the share of their samples that the judge's style head calls a render, not a painting.

Two samplers are measured: the reference's Gaussian (the headline), and the miniature profile's
attributes-first blends (`w2w.space.alike`) beside it. Novelty is also read
without a threshold: a sampled model's similarity to its nearest train identity against the held-out
fleet models' (new people's), unpaired.
"""

from __future__ import annotations

import numpy as np

from w2w.adapters.render import render_models
from w2w.evaluate.context import Context
from w2w.evaluate.judged import judged_attributes, mean_embeddings, realistic_fractions
from w2w.evaluate.stats import sample_rows, unpaired_difference_ci, with_ci
from w2w.params import EvaluateSamplingParams
from w2w.space.alike import attribute_labels, sample_alike
from w2w.space.basis import Basis
from w2w.space.edit import sample


def consistency(ctx: Context, samples: np.ndarray) -> np.ndarray:
    """(M,) mean pairwise cosine of each model's sample embeddings; samples (M, n, S, S, 3)."""
    m, n = samples.shape[:2]
    e = ctx.judge.embed(samples.reshape(m * n, *samples.shape[2:])).reshape(m, n, -1)
    gram = np.einsum("mie,mje->mij", e, e)
    pairs = np.triu_indices(n, 1)
    return gram[:, pairs[0], pairs[1]].clip(-1, 1).mean(1)


def identity_embeddings(ctx: Context, rows: np.ndarray) -> np.ndarray:
    """(R, E) unit mean embedding of each row's world renders."""
    out = []
    for start in range(0, len(rows), 64):
        images = np.asarray(ctx.images.get_orthogonal_selection((rows[start:start + 64], slice(None))))
        e = ctx.judge.embed(images.reshape(-1, *images.shape[2:])).reshape(len(images), images.shape[1], -1)
        out.append(e.mean(1))
    e = np.concatenate(out)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def nearest_similarity(ctx: Context, samples: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """(M,) each model's similarity to its nearest gallery identity: the cosine of its samples'
    mean embedding to the gallery's mean render embeddings (T, E)."""
    return (mean_embeddings(ctx.judge, samples) @ gallery.T).max(1)


def novelty_threshold(novel: np.ndarray, seen: np.ndarray) -> float:
    """The nearest-identity similarity that best separates known novel models from known seen
    ones (the largest balanced accuracy): a model is novel when its score is below it."""
    candidates = np.unique(np.r_[novel, seen])
    cuts = np.r_[candidates, candidates[-1] + 1e-6]
    accuracy = [(np.mean(novel < c) + np.mean(seen >= c)) / 2 for c in cuts]
    return float(cuts[int(np.argmax(accuracy))])


def sampler_metrics(prefix: str, sampled: np.ndarray, ctx: Context, gallery: np.ndarray, threshold: float,
                    trained_consistency: np.ndarray, heldout_nearest: np.ndarray, truth: np.ndarray,
                    seed: int) -> dict:
    """One sampler's figures, names prefixed: its models' consistency against the trained held-out
    models' (unpaired), novel fraction, nearest train identity against the held-out models' (a new
    person's), realism and attribute rates against the train set's (truth, (A,))."""
    consistent, near = consistency(ctx, sampled), nearest_similarity(ctx, sampled, gallery)
    rates = judged_attributes(ctx.judge, sampled).mean(0)
    names = ctx.judge.attribute_names
    return {
        **with_ci(f"{prefix}consistency", consistent),
        **with_ci(f"{prefix}realistic", realistic_fractions(ctx.judge, sampled)),
        f"{prefix}consistency_difference": float(consistent.mean() - trained_consistency.mean()),
        f"{prefix}consistency_difference_ci": list(unpaired_difference_ci(consistent, trained_consistency,
                                                                         seed)),
        **with_ci(f"{prefix}novel_fraction", (near < threshold).astype(float)),
        **with_ci(f"{prefix}nearest_similarity", near),
        f"{prefix}nearest_similarity_difference": float(near.mean() - heldout_nearest.mean()),
        f"{prefix}nearest_similarity_difference_ci": list(unpaired_difference_ci(near, heldout_nearest,
                                                                                seed)),
        f"{prefix}attribute_rate": {a: float(r) for a, r in zip(names, rates, strict=True)},
        f"{prefix}attribute_rate_abs_diff_mean": float(np.abs(rates - truth).mean())}


def measure_sampling(ctx: Context, basis: Basis, p: EvaluateSamplingParams, prompt: str
                     ) -> tuple[dict, dict[str, np.ndarray]]:
    """Metrics, and each sampler's models' samples (M, n, S, S, 3) for a grid: "reference" (the
    Gaussian) and "alike" (blends of the `alike_people` train identities nearest in attributes, at
    most all of them).

    Novelty is calibrated on train identities only: the fleet models of `calibration_models` train
    identities left out of the gallery are known novel, those of as many others in it known seen;
    the threshold between them is then applied, with the whole train gallery, to the sampled models
    and to two controls (held-out fleet models: truly novel; other train fleet models: seen). The
    rule is valid only when the controls separate."""
    def render(adapters: np.ndarray, desc: str) -> np.ndarray:
        return render_models(ctx.pipe, adapters, ctx.layout, ctx.scaling, prompt, p.samples_per_model,
                             p.seed, p.sampler_steps, p.guidance_scale, desc=desc,
                             base_unconditional=p.unconditional == "base")

    train = sample_rows(ctx.heldout, False, 2 * p.calibration_models + p.trained_models, p.seed)
    left_out, seen_in = train[:p.calibration_models], train[p.calibration_models:2 * p.calibration_models]
    own_rows = train[2 * p.calibration_models:]
    gallery_rows = np.flatnonzero(~ctx.heldout)
    gallery = identity_embeddings(ctx, gallery_rows)
    kept = ~np.isin(gallery_rows, left_out)
    threshold = novelty_threshold(nearest_similarity(ctx, render(ctx.adapters(left_out), "left out"),
                                                     gallery[kept]),
                                  nearest_similarity(ctx, render(ctx.adapters(seen_in), "seen"),
                                                     gallery[kept]))
    sampled = render(sample(basis, p.models, p.seed, p.covariance, p.components), "sampled")
    trained = render(ctx.adapters(ctx.rows(True, p.trained_models, p.seed)), "trained (held-out)")
    own = render(ctx.adapters(own_rows), "trained (train)")
    nearest = {"heldout": nearest_similarity(ctx, trained, gallery),
               "train": nearest_similarity(ctx, own, gallery)}
    consistent = consistency(ctx, trained)
    names = ctx.judge.attribute_names
    truth = ctx.table.loc[~ctx.heldout, names].to_numpy(dtype=float).mean(0)
    novel = {name: (score < threshold).astype(float) for name, score in nearest.items()}
    separated = novel["heldout"].mean() >= 0.9 and novel["train"].mean() <= 0.2
    metrics = {
        **sampler_metrics("", sampled, ctx, gallery, threshold, consistent, nearest["heldout"], truth,
                          p.seed),
        **with_ci("trained_consistency", consistent),
        **with_ci("trained_realistic", realistic_fractions(ctx.judge, trained)),
        **with_ci("novel_fraction_heldout_models", novel["heldout"]),
        **with_ci("novel_fraction_train_models", novel["train"]),
        **with_ci("nearest_similarity_heldout_models", nearest["heldout"]),
        **with_ci("nearest_similarity_train_models", nearest["train"]),
        "novelty_rule_valid": bool(separated), "novelty_threshold": threshold,
        "train_attribute_rate": {a: float(r) for a, r in zip(names, truth, strict=True)},
        "models": p.models, "trained_models": len(own_rows), "covariance": p.covariance,
        "alike_people": (people := min(p.alike_people, len(basis.train_identity_ids)))}
    alike = render(sample_alike(basis, attribute_labels(ctx.table, basis.train_identity_ids), p.models,
                                p.seed, people),
                   f"sampled, attributes first ({people} alike)")
    metrics.update(sampler_metrics("alike_", alike, ctx, gallery, threshold, consistent, nearest["heldout"],
                                   truth, p.seed))
    return metrics, {"reference": sampled, "alike": alike}
