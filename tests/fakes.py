"""Stand-ins with known answers for what the evaluation reads: a judge that answers from tables,
and the row selection of a zarr array."""

from __future__ import annotations

import numpy as np


class TableJudge:
    """A judge that reads a code from pixel (0, 0) of each image and answers with that row of its
    tables: attribute probabilities (codes, J) and identity embeddings (codes, E)."""

    def __init__(self, probs: np.ndarray | None, embeddings: np.ndarray):
        self.probs, self.embeddings = probs, embeddings

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
