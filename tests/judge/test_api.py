import numpy as np
import pytest
import torch

from w2w.judge.api import Judge
from w2w.judge.model import JudgeNet
from w2w.judge.train import equal_error_threshold, verification_scores
from w2w.world.identity import ATTRIBUTES


def small_judge() -> Judge:
    torch.manual_seed(0)
    config = {"attributes": list(ATTRIBUTES), "width": 4, "embedding_dim": 8, "image_size": 32}
    return Judge(JudgeNet(len(ATTRIBUTES), 4, 8, 32), config)


def images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)


def test_save_load_round_trip_is_exact(tmp_path):
    judge = small_judge()
    judge.save(tmp_path)
    loaded = Judge.load(tmp_path)
    x = images(5)
    assert np.array_equal(judge.embed(x), loaded.embed(x))
    assert np.array_equal(judge.attribute_probabilities(x), loaded.attribute_probabilities(x))


def test_outputs_shapes_and_ranges():
    judge, x = small_judge(), images(6)
    emb = judge.embed(x)
    assert emb.shape == (6, 8) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    probs = judge.attribute_probabilities(x)
    assert probs.shape == (6, len(ATTRIBUTES)) and ((probs > 0) & (probs < 1)).all()
    assert judge.identity_similarity(x, x) == pytest.approx(1.0, abs=1e-5)
    assert judge.identity_similarity(x[:3], images(3, seed=1)) < 1.0


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="uint8 images"):
        small_judge().embed(np.zeros((2, 32, 32), np.uint8))
    with pytest.raises(FileNotFoundError, match="not a judge folder"):
        Judge.load("/nonexistent/judge")


def test_verification_pairs_and_threshold():
    emb = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=float)
    scores, same = verification_scores(emb, np.array([0, 0, 1, 1]))
    assert len(scores) == 6 and same.sum() == 2
    threshold, eer = equal_error_threshold(scores, same)
    assert eer == 0.0 and threshold == 1.0
