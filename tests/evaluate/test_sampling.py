"""The sampling evaluation's parts on a judge with known answers: consistency, the train identities'
mean embeddings, and the novelty rule."""

from types import SimpleNamespace

import numpy as np
import pytest
from fakes import Rows, TableJudge

from w2w.evaluate.sampling import consistency, identity_embeddings, nearest_similarity, novelty_threshold


def coded(codes: np.ndarray) -> np.ndarray:
    """Images (..., 2, 2, 3) uint8 whose pixel (0, 0) holds `codes`."""
    images = np.zeros((*codes.shape, 2, 2, 3), np.uint8)
    images[..., 0, 0, 0] = codes
    return images


UNIT = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [-1.0, 0.0]])


def test_consistency_is_the_mean_pairwise_cosine_of_each_models_samples():
    ctx = SimpleNamespace(judge=TableJudge(None, UNIT))
    samples = coded(np.array([[0, 0, 0], [0, 1, 2]]))  # model 0: one face thrice; model 1: three
    # model 1's pairs: (0,1) 0.0, (0,2) 0.6, (1,2) 0.8
    assert consistency(ctx, samples) == pytest.approx([1.0, (0.0 + 0.6 + 0.8) / 3])


def test_identity_embeddings_are_unit_means_of_the_given_rows():
    images = coded(np.array([[0, 1], [3, 3], [2, 2]]))
    ctx = SimpleNamespace(judge=TableJudge(None, UNIT), images=Rows(images))
    gallery = identity_embeddings(ctx, np.array([0, 2]))
    assert gallery == pytest.approx(np.array([[1.0, 1.0] / np.sqrt(2), [0.6, 0.8]]))


def test_a_models_nearest_identity_is_scored_by_its_samples_mean_embedding():
    ctx = SimpleNamespace(judge=TableJudge(None, UNIT))
    gallery = np.array([[1.0, 0.0], [0.0, 1.0]])
    samples = coded(np.array([[0, 0], [0, 1], [2, 2]]))  # means: (1, 0), (1, 1)/sqrt 2, (0.6, 0.8)
    assert nearest_similarity(ctx, samples, gallery) == pytest.approx([1.0, 1 / np.sqrt(2), 0.8])


def test_the_novelty_threshold_separates_known_novel_from_known_seen_models():
    novel, seen = np.array([0.1, 0.2, 0.3]), np.array([0.5, 0.6])
    t = novelty_threshold(novel, seen)
    assert (novel < t).all() and (seen >= t).all()
    # overlapping classes: the cut with the best balanced accuracy (here 2 of 3 novel, 2 of 2 seen)
    t = novelty_threshold(np.array([0.1, 0.2, 0.7]), np.array([0.5, 0.6]))
    assert t == 0.5
