"""Editing and sampling identities as models: coefficient arithmetic in the weights2weights space.

Every function returns adapter weights (D,) or (n, D), which `w2w.adapters.files.export_lora` writes
as a standard LoRA.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from w2w.space.basis import Basis
from w2w.space.directions import Directions


def edit(weights: np.ndarray, strengths: dict[str, float], basis: Basis, directions: Directions
         ) -> np.ndarray:
    """w + sum_a strength_a * d_a, with d_a the attribute's unit-strength direction in weight space.

    The part of w outside the subspace is kept; strengths are in directions' units (train stds)."""
    k = directions.directions.shape[1]
    step = np.zeros(basis.k)
    for attribute, strength in strengths.items():
        step[:k] += float(strength) * directions.vector(attribute)
    return (np.asarray(weights, dtype=np.float64) + basis.direction_to_weights(step)).astype(np.float32)


def sample_coefficients(basis: Basis, n: int, seed: int,
                        covariance: Literal["diagonal", "full"] = "diagonal", k: int = 0) -> np.ndarray:
    """n coefficient vectors (n, basis.k): independent Gaussians per component with the train
    variances (the reference), or one Gaussian with the train coefficients' full covariance. Only
    the first k components are drawn (0: all); the others stay at the train mean."""
    rng = np.random.default_rng(seed)
    k = k or basis.k
    train = basis.train_coefficients[:, :k]
    out = np.tile(basis.train_coefficients.mean(0), (n, 1))
    if covariance == "full":
        cov = np.cov(train, rowvar=False)
        out[:, :k] = rng.multivariate_normal(train.mean(0), cov, size=n, method="eigh")
    else:
        out[:, :k] = train.mean(0) + rng.standard_normal((n, k)) * train.std(0, ddof=1)
    return out


def sample(basis: Basis, n: int, seed: int, covariance: Literal["diagonal", "full"] = "diagonal",
           k: int = 0) -> np.ndarray:
    """n new identities' adapter weights (n, D); the same seed gives the same identities."""
    return basis.to_weights(sample_coefficients(basis, n, seed, covariance, k))
