"""Attribute directions in the weights2weights space, from linear classifiers on coefficients.

A direction is the classifier's normal, debiased by projecting out the directions of correlated
attributes (params `directions.debias`, e.g. Bald: [Male, Young]), then normalised to unit length.
Strength unit: one standard deviation of the train coefficients along the direction, so an edit of
strength 1-3 moves an identity by 1-3 typical spreads of the population along the attribute.

`data/directions/` (Zarr v3): `directions` (A, k) unit rows, `scales` (A,) = that std,
attrs `attributes` (row order) and `debias`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zarr
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from w2w.atomic import atomic_path
from w2w.params import DirectionsParams
from w2w.storage import COMPRESSORS


@dataclass
class Directions:
    attributes: list[str]
    directions: np.ndarray  # (A, k) unit rows in coefficient space
    scales: np.ndarray      # (A,) std of train coefficients along each direction

    def vector(self, attribute: str) -> np.ndarray:
        """The coefficient-space displacement of strength 1 for `attribute` (k,)."""
        if attribute not in self.attributes:
            raise KeyError(f"no direction for attribute {attribute!r}; known: {', '.join(self.attributes)}")
        j = self.attributes.index(attribute)
        return self.directions[j] * self.scales[j]

    def save(self, out: str | Path, debias: dict[str, list[str]]) -> None:
        with atomic_path(out, is_dir=True) as tmp:
            group = zarr.open_group(tmp, mode="w", zarr_format=3)
            group.create_array("directions", data=self.directions.astype(np.float32), compressors=COMPRESSORS)
            group.create_array("scales", data=self.scales.astype(np.float32), compressors=COMPRESSORS)
            group.attrs.update({"attributes": self.attributes, "debias": debias,
                                "strength_unit": "std of train coefficients along the direction"})

    @classmethod
    def load(cls, folder: str | Path) -> Directions:
        folder = Path(folder)
        if not (folder / "zarr.json").is_file():
            raise FileNotFoundError(f"{folder}: no directions (run the directions stage)")
        group = zarr.open_group(folder, mode="r")
        return cls(list(group.attrs["attributes"]), np.asarray(group["directions"][:], dtype=np.float64),
                   np.asarray(group["scales"][:], dtype=np.float64))


def fit_classifier(x: np.ndarray, y: np.ndarray, p: DirectionsParams):
    """A linear scorer fitted on (n, k) features and bool labels; returns (weights (k,), score fn)."""
    if p.method == "least_squares":  # the reference: least squares on +-1 labels
        design = np.hstack([x, np.ones((len(x), 1))])
        solution, *_ = np.linalg.lstsq(design, np.where(y, 1.0, -1.0), rcond=None)
        w, b = solution[:-1], solution[-1]
        return w, lambda z: z @ w + b
    model = LogisticRegression(C=p.regularization, max_iter=2000, random_state=p.seed).fit(x, y)
    return model.coef_[0], model.decision_function


def check_attributes(names: list[str], debias: dict[str, list[str]]) -> None:
    unknown = sorted({a for a, rest in debias.items() for a in [a, *rest]} - set(names))
    if unknown:
        raise ValueError(f"directions.debias names unknown attributes {unknown}; known: {', '.join(names)}")


def debiased(raw: dict[str, np.ndarray], debias: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """Unit directions with each attribute's listed correlates projected out."""
    out = {}
    for name, w in raw.items():
        d = w.copy()
        others = [raw[o] for o in debias.get(name, []) if o != name]
        if others:
            q, _ = np.linalg.qr(np.stack(others, axis=1))  # orthonormal basis of the correlates
            d = d - q @ (q.T @ d)
        out[name] = d / np.linalg.norm(d)
    return out


def fit_directions(train_x: np.ndarray, train_labels: dict[str, np.ndarray], test_x: np.ndarray,
                   test_labels: dict[str, np.ndarray], p: DirectionsParams
                   ) -> tuple[Directions, dict[str, float]]:
    """Directions from the train coefficients and the held-out AUC of each attribute's classifier."""
    directions, scores = fit_scored_directions(train_x, train_labels, test_x, p)
    return directions, {name: float(roc_auc_score(test_labels[name], s)) for name, s in scores.items()}


def fit_scored_directions(train_x: np.ndarray, train_labels: dict[str, np.ndarray], test_x: np.ndarray,
                          p: DirectionsParams) -> tuple[Directions, dict[str, np.ndarray]]:
    """Directions from the train coefficients, and each attribute's classifier scoring the held-out
    rows (M,): what an AUC and its interval are computed from."""
    check_attributes(list(train_labels), p.debias)
    raw, scores = {}, {}
    for name, y in train_labels.items():
        w, score = fit_classifier(train_x, y, p)
        raw[name] = w
        scores[name] = score(test_x)
    unit = debiased(raw, p.debias)
    names = list(train_labels)
    directions = np.stack([unit[n] for n in names])
    scales = (train_x @ directions.T).std(0)  # (A,)
    return Directions(names, directions, scales), scores


def heldout_scores(train_x: np.ndarray, train_labels: dict[str, np.ndarray], test_x: np.ndarray,
                   p: DirectionsParams, standardise: bool = False) -> dict[str, np.ndarray]:
    """Each attribute's classifier, fitted on the train rows as `fit_directions` fits it, scoring
    the held-out rows (M,), without the directions. `standardise`: on features standardised by the
    train rows (a control such as each identity's mean training latent)."""
    if standardise:
        mean, std = train_x.mean(0), train_x.std(0) + 1e-8
        train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    return {name: fit_classifier(train_x, y, p)[1](test_x) for name, y in train_labels.items()}
