"""The `directions` stage's fit: attribute labels of the identities, and one linear direction per
attribute from the train identities' coefficients (its held-out scores beside it, for the AUC)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import zarr

from w2w.errors import InputError
from w2w.params import DirectionsParams
from w2w.space.basis import Basis
from w2w.space.directions import Directions, check_attributes, fit_scored_directions


def attribute_columns(table: pd.DataFrame) -> list[str]:
    """The identities table's attribute columns: its bool ones, in table order."""
    return [c for c in table.columns if table[c].dtype == bool]


def labels_of(table: pd.DataFrame, names: list[str], rows: np.ndarray) -> dict[str, np.ndarray]:
    return {a: table[a].to_numpy(dtype=bool)[rows] for a in names}


def usable_attributes(table: pd.DataFrame, train: np.ndarray, test: np.ndarray) -> list[str]:
    """Bool attribute columns with both classes in the train and the held-out rows."""
    names = attribute_columns(table)

    def both_classes(a: str, rows: np.ndarray) -> bool:
        return 0 < table[a].to_numpy()[rows].sum() < len(rows)

    return [a for a in names if both_classes(a, train) and both_classes(a, test)]


@dataclass
class AttributeFit:
    """Directions fitted on the train rows, with what a control needs to be fitted the same way."""

    directions: Directions
    test_scores: dict[str, np.ndarray]  # each attribute's classifier on the held-out coefficients
    train: np.ndarray               # row indices of weights.zarr
    test: np.ndarray
    train_labels: dict[str, np.ndarray]
    test_labels: dict[str, np.ndarray]
    params: DirectionsParams        # debias limited to the usable attributes
    components: int


def fit_attribute_directions(world: Path, weights_zarr: Path, basis: Basis, p: DirectionsParams
                             ) -> AttributeFit:
    """Directions from train coefficients; their held-out AUC."""
    table = pd.read_parquet(world / "identities.parquet")
    group = zarr.open_group(weights_zarr, mode="r")
    heldout = np.asarray(group["heldout"][:])
    train, test = np.flatnonzero(~heldout), np.flatnonzero(heldout)
    components = p.components or basis.k
    ids = np.asarray(group["identity_ids"][:])
    if not np.array_equal(basis.train_identity_ids, ids[train]):
        raise InputError(f"{weights_zarr}: train rows differ from the basis's; rerun the pca stage")
    held = group["weights"].get_orthogonal_selection((test, slice(None)))
    xtrain, xtest = basis.train_coefficients[:, :components], basis.to_coefficients(held)[:, :components]
    check_attributes(attribute_columns(table), p.debias)
    names = usable_attributes(table, train, test)
    if not names:
        raise ValueError("no attribute has both classes among the train and the held-out identities")
    debias = {a: [o for o in rest if o in names] for a, rest in p.debias.items() if a in names}
    p = p.model_copy(update={"debias": debias})  # attributes without both classes drop out
    ytrain, ytest = labels_of(table, names, train), labels_of(table, names, test)
    directions, scores = fit_scored_directions(xtrain, ytrain, xtest, p)
    return AttributeFit(directions, scores, train, test, ytrain, ytest, p, components)
