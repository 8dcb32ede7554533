"""The weights2weights basis: a standardised PCA of the adapter matrix, and maps to and from it.

Coordinates: z = (w - mean) / std per parameter (std of the train rows; a zero std is replaced by 1,
so a constant parameter maps to 0), and c = z @ components.T. Back: w = mean + std * (c @ components),
plus whatever part of z lies outside the k components (the residual, kept by edits).

`data/basis/` (a Zarr v3 group, readable without this project):
    mean, std               (D,)
    components              (k, D)  orthonormal rows
    singular_values         (k,)
    explained_variance      (k,)    variance of the train coefficients along each component
    explained_variance_ratio (k,)   of the total variance of the standardised train rows
    train_coefficients      (n_train, k)
    train_identity_ids      (n_train,)
attrs: method, rows, cols, k.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zarr

from w2w.atomic import atomic_path
from w2w.storage import COMPRESSORS

MIN_STD = 1e-12

ARRAYS = ("mean", "std", "components", "singular_values", "explained_variance",
          "explained_variance_ratio", "train_coefficients", "train_identity_ids")


@dataclass
class Basis:
    mean: np.ndarray                       # (D,)
    std: np.ndarray                        # (D,)
    components: np.ndarray                 # (k, D)
    singular_values: np.ndarray            # (k,)
    explained_variance: np.ndarray         # (k,)
    explained_variance_ratio: np.ndarray   # (k,)
    train_coefficients: np.ndarray         # (n_train, k)
    train_identity_ids: np.ndarray         # (n_train,)
    method: str = ""

    @property
    def k(self) -> int:
        return int(self.components.shape[0])

    @property
    def dim(self) -> int:
        return int(self.components.shape[1])

    def standardise(self, weights: np.ndarray) -> np.ndarray:
        return (np.asarray(weights, dtype=np.float64) - self.mean) / self.std

    def to_coefficients(self, weights: np.ndarray) -> np.ndarray:
        """(n, D) or (D,) adapter weights -> (n, k) or (k,) coefficients."""
        return self.standardise(weights) @ self.components.T

    def to_weights(self, coefficients: np.ndarray) -> np.ndarray:
        """(n, k) or (k,) coefficients -> float32 adapter weights on the subspace."""
        z = np.asarray(coefficients, dtype=np.float64) @ self.components
        return (self.mean + self.std * z).astype(np.float32)

    def direction_to_weights(self, direction: np.ndarray) -> np.ndarray:
        """A coefficient-space vector (k,) as a weight-space displacement (D,), no mean added."""
        return (self.std * (np.asarray(direction, dtype=np.float64) @ self.components)).astype(np.float32)

    def save(self, out: str | Path) -> None:
        """Write atomically as a Zarr v3 group."""
        with atomic_path(out, is_dir=True) as tmp:
            group = zarr.open_group(tmp, mode="w", zarr_format=3)
            for name in ARRAYS:
                value = np.asarray(getattr(self, name))
                value = value.astype(np.int64 if name == "train_identity_ids" else np.float32)
                group.create_array(name, data=value, compressors=COMPRESSORS)
            group.attrs.update({"method": self.method, "rows": int(len(self.train_coefficients)),
                                "cols": self.dim, "k": self.k,
                                "coordinates": "c = ((w - mean) / std) @ components.T"})

    @classmethod
    def load(cls, folder: str | Path) -> Basis:
        folder = Path(folder)
        if not (folder / "zarr.json").is_file():
            raise FileNotFoundError(f"{folder}: not a basis (run the pca stage)")
        group = zarr.open_group(folder, mode="r")
        data = {name: np.asarray(group[name][:]) for name in ARRAYS}
        data = {k: v if k == "train_identity_ids" else v.astype(np.float64) for k, v in data.items()}
        return cls(**data, method=str(group.attrs.get("method", "")))


def standardisation(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-parameter mean and std of the train rows (n, D); a zero std becomes 1."""
    mean = train.mean(0, dtype=np.float64)
    std = train.std(0, dtype=np.float64)
    return mean, np.where(std > MIN_STD, std, 1.0)
