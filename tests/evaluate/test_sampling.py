"""The sampling evaluation's parts on a judge with known answers: consistency, the train identities'
mean embeddings, and the novelty rule."""

from types import SimpleNamespace

import numpy as np
import pytest
from fakes import Rows, TableJudge

from w2w.evaluate.sampling import consistency, novel, train_identity_embeddings


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


def test_train_identities_mean_embedding_is_unit_and_skips_held_out_rows():
    images = coded(np.array([[0, 1], [3, 3], [2, 2]]))  # identity 1 is held out
    ctx = SimpleNamespace(judge=TableJudge(None, UNIT), heldout=np.array([False, True, False]),
                          images=Rows(images))
    train = train_identity_embeddings(ctx)
    assert train == pytest.approx(np.array([[1.0, 1.0] / np.sqrt(2), [0.6, 0.8]]))


def test_a_sample_is_novel_when_no_train_identity_is_as_near_as_the_threshold():
    ctx = SimpleNamespace(judge=TableJudge(None, UNIT))
    train = np.array([[1.0, 0.0]])  # one train identity, along code 0
    samples = coded(np.array([[0, 1], [2, 3]]))  # cosines to it: 1.0, 0.0 / 0.6, -1.0
    assert novel(ctx, samples, train, threshold=0.5).tolist() == [[False, True], [False, True]]
    assert novel(ctx, samples, train, threshold=0.7).tolist() == [[False, True], [True, True]]
