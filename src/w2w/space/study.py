"""The `directions` stage's library: labels, features, classifiers, and the image-space control."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import zarr

from w2w.errors import InputError
from w2w.params import DirectionsParams
from w2w.space.basis import Basis
from w2w.space.directions import Directions, baseline_auc, check_attributes, fit_directions


def labels_of(table: pd.DataFrame, names: list[str], rows: np.ndarray) -> dict[str, np.ndarray]:
    return {a: table[a].to_numpy(dtype=bool)[rows] for a in names}


def usable_attributes(table: pd.DataFrame, train: np.ndarray, test: np.ndarray) -> list[str]:
    """Bool attribute columns with both classes in the train and the held-out rows."""
    names = [c for c in table.columns if table[c].dtype == bool]

    def both_classes(a: str, rows: np.ndarray) -> bool:
        return 0 < table[a].to_numpy()[rows].sum() < len(rows)

    return [a for a in names if both_classes(a, train) and both_classes(a, test)]


def mean_latents(base: Path) -> np.ndarray:
    """Each identity's mean training latent, flattened (N, C*h*w): the image-space control."""
    latents = zarr.open_group(base / "latents.zarr", mode="r")["latents"]
    return np.concatenate([np.asarray(latents[s:s + 256]).mean(1).reshape(min(256, latents.shape[0] - s), -1)
                           for s in range(0, latents.shape[0], 256)])


def attribute_study(world: Path, base: Path, weights_zarr: Path, basis: Basis, p: DirectionsParams
                    ) -> tuple[Directions, dict]:
    """Directions from train coefficients; held-out AUC for weights and for the image control."""
    table = pd.read_parquet(world / "identities.parquet")
    group = zarr.open_group(weights_zarr, mode="r")
    heldout = np.asarray(group["heldout"][:])
    train, test = np.flatnonzero(~heldout), np.flatnonzero(heldout)
    k = p.components or basis.k
    ids = np.asarray(group["identity_ids"][:])
    if not np.array_equal(basis.train_identity_ids, ids[train]):
        raise InputError(f"{weights_zarr}: train rows differ from the basis's; rerun the pca stage")
    held = group["weights"].get_orthogonal_selection((test, slice(None)))
    xtrain, xtest = basis.train_coefficients[:, :k], basis.to_coefficients(held)[:, :k]
    check_attributes([c for c in table.columns if table[c].dtype == bool], p.debias)
    names = usable_attributes(table, train, test)
    if not names:
        raise ValueError("no attribute has both classes among the train and the held-out identities")
    debias = {a: [o for o in rest if o in names] for a, rest in p.debias.items() if a in names}
    p = p.model_copy(update={"debias": debias})  # attributes without both classes drop out
    ytrain, ytest = labels_of(table, names, train), labels_of(table, names, test)
    directions, auc = fit_directions(xtrain, ytrain, xtest, ytest, p)
    images = mean_latents(base)
    image_auc = baseline_auc(images[train], ytrain, images[test], ytest, p)
    return directions, {
        "auc": auc, "auc_min": min(auc.values()), "auc_mean": float(np.mean(list(auc.values()))),
        "image_baseline_auc": image_auc, "image_baseline_auc_mean": float(np.mean(list(image_auc.values()))),
        "components": k, "attributes": len(names)}
