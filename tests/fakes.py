"""Stand-ins with known answers for what the evaluation reads: a judge that answers from tables,
the row selection of a zarr array, and a small basis."""

from __future__ import annotations

import numpy as np

from w2w.space.basis import Basis


def toy_basis(seed: int = 0) -> Basis:
    """A basis of 5 orthonormal components in 20 weights, fitted to 50 train identities."""
    rng = np.random.default_rng(seed)
    comps = np.linalg.qr(rng.standard_normal((20, 5)))[0].T  # (5, 20) orthonormal rows
    train = rng.standard_normal((50, 5)) * np.array([5, 4, 3, 2, 1])
    return Basis(rng.standard_normal(20), rng.uniform(0.5, 2, 20), comps, np.ones(5), np.ones(5),
                 np.ones(5) / 5, train, np.arange(50))


class TableJudge:
    """A judge that reads a code from pixel (0, 0) of each image and answers with that row of its
    tables: attribute probabilities (codes, J), identity embeddings (codes, E) and, if given, trait
    estimates (codes, T) in units whose population sd is `trait_std`."""

    def __init__(self, probs: np.ndarray | None, embeddings: np.ndarray, traits: np.ndarray | None = None,
                 trait_std: float = 1.0):
        self.probs, self.embeddings, self.traits = probs, embeddings, traits
        self.config = {"trait_std": [trait_std] * (0 if traits is None else traits.shape[1])}

    @property
    def has_traits(self) -> bool:
        return self.traits is not None

    def predict_traits(self, images: np.ndarray) -> np.ndarray:
        return self.traits[images[:, 0, 0, 0]]

    def attribute_probabilities(self, images: np.ndarray) -> np.ndarray:
        return self.probs[images[:, 0, 0, 0]]

    def embed(self, images: np.ndarray) -> np.ndarray:
        return self.embeddings[images[:, 0, 0, 0]]


class Rows:
    """What evaluation reads of a zarr array: an orthogonal selection (rows, then the next axis)."""

    def __init__(self, array: np.ndarray):
        self.array = array

    def get_orthogonal_selection(self, selection):
        return self.array[selection[0]][:, selection[1]]
