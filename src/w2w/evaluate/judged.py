"""What the judge sees in many models' samples (M, n, S, S, 3): attributes, mean identity, traits
and style."""

from __future__ import annotations

import numpy as np
import pandas as pd

from w2w.judge.api import TRAIT_COLUMNS, Judge


def attribute_probabilities(judge: Judge, samples: np.ndarray) -> np.ndarray:
    """(M, A): the judge's mean attribute probability over each model's samples."""
    m, n = samples.shape[:2]
    probs = judge.attribute_probabilities(samples.reshape(m * n, *samples.shape[2:]))
    return probs.reshape(m, n, -1).mean(1)


def judged_attributes(judge: Judge, samples: np.ndarray) -> np.ndarray:
    """(M, A) bool: the judge's call per model, from its mean probability over the model's samples."""
    return attribute_probabilities(judge, samples) > 0.5


def mean_embeddings(judge: Judge, samples: np.ndarray) -> np.ndarray:
    """(M, E) unit mean identity embedding of each model's samples."""
    m, n = samples.shape[:2]
    e = judge.embed(samples.reshape(m * n, *samples.shape[2:])).reshape(m, n, -1).mean(1)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def trait_errors(judge: Judge, samples: np.ndarray, truth: np.ndarray | None) -> np.ndarray | None:
    """(M,) the trait regressor's error for each model's samples (M, n, S, S, 3) against its
    identity's true traits (M, T), in population standard deviations (`Judge.trait_error`); None
    where the traits are not known (real photos: `truth` None) or the judge has no regressor."""
    if truth is None or not judge.has_traits:
        return None
    return np.array([judge.trait_error(s, t) for s, t in zip(samples, truth, strict=True)])


def standard_traits(judge: Judge, samples: np.ndarray) -> np.ndarray | None:
    """(M, T) the trait regressor's mean estimate over each model's samples, in population standard
    deviations; None where the judge has no regressor."""
    if not judge.has_traits:
        return None
    m, n = samples.shape[:2]
    predicted = judge.predict_traits(samples.reshape(m * n, *samples.shape[2:])).reshape(m, n, -1).mean(1)
    return predicted / np.asarray(judge.config["trait_std"])


def realistic_fractions(judge: Judge, samples: np.ndarray) -> np.ndarray | None:
    """(M,) the share of each model's samples that the style head calls a render, not a painting;
    None where the judge has no style head (a world of photos, a user's yardstick)."""
    if not judge.has_style:
        return None
    m, n = samples.shape[:2]
    calls = judge.realistic_probability(samples.reshape(m * n, *samples.shape[2:])) > 0.5
    return calls.reshape(m, n).mean(1)


def similarities(judge: Judge, samples: np.ndarray, references: np.ndarray) -> np.ndarray:
    """(M,) the judge's similarity of each model's samples to its identity's references, both
    (M, n, S, S, 3)."""
    return np.array([judge.identity_similarity(s, r) for s, r in zip(samples, references, strict=True)])


def truth_of(table: pd.DataFrame) -> np.ndarray | None:
    """The identities' true traits (M, T): known in the miniature world, None for real photos."""
    if not set(TRAIT_COLUMNS) <= set(table.columns):
        return None
    return table[TRAIT_COLUMNS].to_numpy(np.float64)
