"""Stand-ins with known answers for what the evaluation reads: a judge that answers from tables,
and the row selection of a zarr array."""

from __future__ import annotations

import numpy as np


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
