"""The `directions` stage's measurement: held-out AUC of the weight-space directions against the
image-space control (the same classifiers on each identity's mean training latent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import zarr

from w2w.space.attributes import AttributeFit
from w2w.space.directions import baseline_auc


def mean_latents(base: Path) -> np.ndarray:
    """Each identity's mean training latent, flattened (N, C*h*w): the image-space control."""
    latents = zarr.open_group(base / "latents.zarr", mode="r")["latents"]
    return np.concatenate([np.asarray(latents[s:s + 256]).mean(1).reshape(min(256, latents.shape[0] - s), -1)
                           for s in range(0, latents.shape[0], 256)])


def directions_metrics(fit: AttributeFit, base: Path) -> dict:
    """The directions' held-out AUC (per attribute, min, mean) beside the image control's."""
    images = mean_latents(base)
    image_auc = baseline_auc(images[fit.train], fit.train_labels, images[fit.test], fit.test_labels,
                             fit.params)
    auc = fit.auc
    return {
        "auc": auc, "auc_min": min(auc.values()), "auc_mean": float(np.mean(list(auc.values()))),
        "image_baseline_auc": image_auc, "image_baseline_auc_mean": float(np.mean(list(image_auc.values()))),
        "components": fit.components, "attributes": len(fit.train_labels)}
