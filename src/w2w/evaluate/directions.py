"""The `directions` stage's measurement: held-out AUC of the weight-space directions, with 95 %
bootstrap intervals over identities, against the image-space control (the same classifiers on each
identity's mean training latent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import zarr
from sklearn.metrics import roc_auc_score

from w2w.evaluate.stats import auc_ci
from w2w.space.attributes import AttributeFit
from w2w.space.directions import heldout_scores


def mean_latents(base: Path) -> np.ndarray:
    """Each identity's mean training latent, flattened (N, C*h*w): the image-space control."""
    latents = zarr.open_group(base / "latents.zarr", mode="r")["latents"]
    return np.concatenate([np.asarray(latents[s:s + 256]).mean(1).reshape(min(256, latents.shape[0] - s), -1)
                           for s in range(0, latents.shape[0], 256)])


def aucs(labels: dict[str, np.ndarray], scores: dict[str, np.ndarray], seed: int
         ) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Per attribute: the AUC of the held-out scores and its interval over identities."""
    return ({a: float(roc_auc_score(labels[a], scores[a])) for a in scores},
            {a: list(auc_ci(labels[a], scores[a], seed)) for a in scores})


def directions_metrics(fit: AttributeFit, base: Path) -> dict:
    """The directions' held-out AUC (per attribute, min, mean) beside the image control's."""
    images = mean_latents(base)
    auc, auc_interval = aucs(fit.test_labels, fit.test_scores, fit.params.seed)
    image_auc, image_interval = aucs(fit.test_labels, heldout_scores(
        images[fit.train], fit.train_labels, images[fit.test], fit.params, standardise=True), fit.params.seed)
    lowest = min(auc, key=auc.get)
    return {
        "auc": auc, "auc_ci": auc_interval, "auc_min": auc[lowest], "auc_min_attribute": lowest,
        "auc_min_ci": auc_interval[lowest], "auc_mean": float(np.mean(list(auc.values()))),
        "image_baseline_auc": image_auc, "image_baseline_auc_ci": image_interval,
        "image_baseline_auc_mean": float(np.mean(list(image_auc.values()))),
        "components": fit.components, "attributes": len(fit.train_labels)}
