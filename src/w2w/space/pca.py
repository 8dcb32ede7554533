"""Fitting the standardised PCA: in memory (scikit-learn) or out of core (row blocks of Zarr).

Methods:
- exact: scikit-learn PCA, full SVD;
- randomized: scikit-learn PCA, randomized SVD with `power_iterations`;
- out_of_core: a randomized SVD over row blocks streamed from Zarr (`w2w.space.outofcore`); the
  matrix is never whole in memory, and each block is read while the one before it is multiplied.
  At least 2 power iterations: with none the 100th singular value was measured badly wrong.
- auto: in memory when the train matrix fits in `in_memory_max_gb`, exact when its smaller side is
  at most 2,000, else randomized; out of core otherwise.
"""

from __future__ import annotations

import numpy as np
import zarr

from w2w.params import PcaParams
from w2w.space.basis import Basis, standardisation

EXACT_MAX_SIDE = 2_000


def choose_method(rows: int, cols: int, p: PcaParams) -> str:
    if p.method != "auto":
        return p.method
    if rows * cols * 8 / 2**30 > p.in_memory_max_gb:  # float64 working copy
        return "out_of_core"
    return "exact" if min(rows, cols) <= EXACT_MAX_SIDE else "randomized"


def fit_in_memory(train: np.ndarray, ids: np.ndarray, k: int, method: str, p: PcaParams) -> Basis:
    """train (n, D) float; k is capped at min(n, D)."""
    from sklearn.decomposition import PCA

    mean, std = standardisation(train)
    z = (train - mean) / std
    k = min(k, *z.shape)
    pca = PCA(n_components=k, svd_solver="full" if method == "exact" else "randomized",
              iterated_power=max(p.power_iterations, 2), random_state=p.seed)
    coefficients = pca.fit_transform(z)  # z is centred already, so PCA's own centring is a no-op
    return Basis(mean, std, pca.components_, pca.singular_values_, pca.explained_variance_,
                 pca.explained_variance_ratio_, coefficients, ids, method)


def fit_basis(array: zarr.Array, train_rows: np.ndarray, identity_ids: np.ndarray, p: PcaParams) -> Basis:
    """The basis of the train rows of the (N, D) weights array."""
    train_rows = np.sort(np.asarray(train_rows))
    method = choose_method(len(train_rows), array.shape[1], p)
    if method == "out_of_core":
        from w2w.space.outofcore import fit_out_of_core  # torch: only out of core

        return fit_out_of_core(array, train_rows, identity_ids[train_rows], p.components, p)
    train = np.asarray(array.get_orthogonal_selection((train_rows, slice(None))), dtype=np.float64)
    return fit_in_memory(train, identity_ids[train_rows], p.components, method, p)
