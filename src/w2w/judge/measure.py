"""How good a yardstick the judge is, on held-out identities: attributes, verification, robustness
to the base's VAE, the trait regressor's error and the style head's accuracy."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve

from w2w.judge.api import TRAIT_COLUMNS, Judge

Degrade = Callable[[np.ndarray], np.ndarray]  # uint8 (B, S, S, 3) -> the same images, degraded


def verification_scores(embeddings: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarity and same-identity label of every unordered pair of images."""
    sim = embeddings @ embeddings.T
    upper = np.triu_indices(len(ids), k=1)
    return sim[upper], (ids[:, None] == ids[None, :])[upper]


def equal_error_threshold(scores: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """(threshold, equal error rate) of same-vs-different verification."""
    fpr, tpr, thresholds = roc_curve(same, scores)
    k = int(np.argmin(np.abs(fpr - (1 - tpr))))
    return float(thresholds[k]), float((fpr[k] + 1 - tpr[k]) / 2)


def probe_verification(probe: np.ndarray, gallery: np.ndarray) -> dict[str, float]:
    """probe, gallery (M, n, E) unit embeddings of the same M identities' n images. Same-identity
    pairs: probe i vs gallery j != i (never an image with itself or its own degraded copy);
    other pairs: probe 0 of one identity vs gallery 1 of every other."""
    m, n = probe.shape[:2]
    gram = np.einsum("mie,mje->mij", probe, gallery)
    same = gram[:, ~np.eye(n, dtype=bool)].ravel()
    other = (probe[:, 0] @ gallery[:, 1].T)[~np.eye(m, dtype=bool)]
    scores, labels = np.r_[same, other], np.r_[np.ones(len(same)), np.zeros(len(other))]
    return {"auc": float(roc_auc_score(labels, scores)), "same_identity_cosine": float(same.mean()),
            "other_identity_cosine": float(other.mean())}


def vae_robustness(judge: Judge, images: np.ndarray, trips: np.ndarray) -> dict:
    """images (M, n, S, S, 3) and their VAE round trips (M * n, S, S, 3): verification of clean vs
    clean pairs and of round trips vs clean renders; the goal is the same AUC and a same-identity
    cosine within 0.05 of the clean one."""
    clean = judge.embed(images.reshape(-1, *images.shape[2:])).reshape(*images.shape[:2], -1)
    trips = judge.embed(trips).reshape(*images.shape[:2], -1)
    out = {"clean": probe_verification(clean, clean), "vae_round_trip": probe_verification(trips, clean)}
    out["same_identity_cosine_drop"] = (out["clean"]["same_identity_cosine"]
                                        - out["vae_round_trip"]["same_identity_cosine"])
    return out


def trait_accuracy(judge: Judge, images: np.ndarray, truth: np.ndarray) -> dict:
    """images (M, n, S, S, 3) of M identities with true traits (M, T): the regressor's error in
    population standard deviations, per render and for the mean over an identity's n renders,
    against the error of guessing a random other identity's traits (chance)."""
    m, n = images.shape[:2]
    std = np.asarray(judge.config["trait_std"])
    predicted = judge.predict_traits(images.reshape(m * n, *images.shape[2:])).reshape(m, n, -1)
    per_render = np.abs(predicted - truth[:, None]) / std
    per_identity = np.abs(predicted.mean(1) - truth) / std
    chance = np.abs(np.roll(truth, 1, axis=0) - truth) / std
    return {"trait_error_per_render": float(per_render.mean()),
            "trait_error_identity_mean": float(per_identity.mean()),
            "trait_error_chance": float(chance.mean()),
            "trait_error": {t: float(e) for t, e in zip(TRAIT_COLUMNS, per_identity.mean(0), strict=True)}}


def attribute_figures(probs: np.ndarray, truth: np.ndarray, names: list[str]) -> dict:
    """probs (H, K, A) of H identities' K renders each, truth (H, A) bool, per attribute name: the
    accuracy of one render at the cut of 0.5, and the AUC of the mean over an identity's K renders
    (where both classes occur); and their means over attributes."""
    accuracy = {a: float(((probs[:, :, j] > 0.5) == truth[:, None, j]).mean()) for j, a in enumerate(names)}
    auc = {a: float(roc_auc_score(truth[:, j], probs[:, :, j].mean(1))) for j, a in enumerate(names)
           if 0 < truth[:, j].sum() < len(truth)}
    return {"attribute_accuracy": accuracy, "attribute_auc": auc,
            "attribute_accuracy_mean": float(np.mean(list(accuracy.values()))),
            "attribute_auc_mean": float(np.mean(list(auc.values())))}


def evaluate_judge(judge: Judge, images: np.ndarray, table: pd.DataFrame,
                   ood: np.ndarray | None = None, round_trip: Degrade | None = None) -> dict:
    """Held-out figures: images (H, K, S, S, 3) of the held-out identities in `table` order."""
    h, k = images.shape[:2]
    flat = images.reshape(h * k, *images.shape[2:])
    ids = np.repeat(table["identity_id"].to_numpy(), k)
    names = judge.attribute_names
    truth = table[names].to_numpy(bool)                                   # (H, A)
    metrics = attribute_figures(judge.attribute_probabilities(flat).reshape(h, k, -1), truth, names)
    if judge.has_attribute_reader:  # what the reader replaced, on the same renders
        own = judge.own_head().attribute_probabilities(flat).reshape(h, k, -1)
        metrics["judge_head"] = attribute_figures(own, truth, names)
    scores, same = verification_scores(judge.embed(flat), ids)
    threshold, eer = equal_error_threshold(scores, same)
    metrics |= {"identity_auc": float(roc_auc_score(same, scores)),
                "identity_eer": eer, "verification_threshold": threshold}
    if ood is not None:  # painting vs normal render of the same / other held-out identities
        sim = judge.embed(ood.reshape(-1, *ood.shape[2:])) @ judge.embed(flat).T
        ood_ids = np.repeat(table["identity_id"].to_numpy(), ood.shape[1])
        metrics["ood_identity_auc"] = float(roc_auc_score(
            (ood_ids[:, None] == ids[None, :]).ravel(), sim.ravel()))
    trips = round_trip(flat) if round_trip is not None else None  # once: robustness and style read them
    if trips is not None:
        metrics["robustness"] = vae_robustness(judge, images, trips)
    if judge.has_traits:
        metrics["traits"] = trait_accuracy(judge, images, table[TRAIT_COLUMNS].to_numpy(np.float64))
    if judge.has_style and ood is not None:
        paintings = ood.reshape(-1, *ood.shape[2:])
        views = {"": (flat, paintings)}
        if trips is not None:
            views["_vae"] = (trips, round_trip(paintings))
        metrics["style"] = style_accuracy(judge, views)
    return metrics


def style_accuracy(judge: Judge, views: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict:
    """How often the style head calls held-out renders realistic and their paintings not, per view:
    suffix -> (renders, paintings), as they are ("") and through the base's VAE ("_vae"), as every
    generated sample is."""
    out = {}
    for suffix, (renders, paintings) in views.items():
        r = judge.realistic_probability(renders) > 0.5
        p = judge.realistic_probability(paintings) > 0.5
        out |= {f"renders_realistic{suffix}": float(r.mean()),
                f"paintings_realistic{suffix}": float(p.mean()),
                f"balanced_accuracy{suffix}": float((r.mean() + 1 - p.mean()) / 2)}
    return out
