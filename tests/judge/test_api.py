import numpy as np
import pytest
import torch

from w2w.judge.api import TRAIT_COLUMNS, Judge
from w2w.judge.augment import gaussian_blur
from w2w.judge.measure import equal_error_threshold, probe_verification, verification_scores
from w2w.judge.model import JudgeNet, TraitNet
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


def judge_with_constant_traits(predicted: np.ndarray, std: np.ndarray) -> Judge:
    """A judge whose trait regressor ignores the image and predicts `predicted` (world units)."""
    judge = small_judge()
    traits = TraitNet(len(TRAIT_COLUMNS), 4, 32)
    with torch.no_grad():  # standardised output = bias; mean 0, so world units = bias * std
        traits.traits.weight.zero_()
        traits.traits.bias.copy_(torch.from_numpy(predicted / std))
    config = {**judge.config, "traits": TRAIT_COLUMNS, "trait_mean": [0.0] * len(TRAIT_COLUMNS),
              "trait_std": std.tolist()}
    return Judge(judge.net, config, traits)


def test_trait_error_is_in_population_sds_and_survives_save_load(tmp_path):
    t = len(TRAIT_COLUMNS)
    std = np.full(t, 0.5)
    predicted = np.linspace(-0.5, 0.5, t)
    judge = judge_with_constant_traits(predicted, std)
    truth = predicted + np.r_[np.full(t // 2, 0.25), np.full(t - t // 2, -0.75)]  # 0.5 and 1.5 sds off
    assert judge.trait_error(images(3), truth) == pytest.approx(1.0, abs=1e-5)
    assert judge.trait_error(images(3), predicted) == pytest.approx(0.0, abs=1e-5)
    judge.save(tmp_path)
    loaded = Judge.load(tmp_path)
    assert loaded.has_traits and np.allclose(loaded.predict_traits(images(2)), predicted, atol=1e-5)


def test_a_judge_without_a_trait_regressor_says_so(tmp_path):
    small_judge().save(tmp_path)
    with pytest.raises(FileNotFoundError, match=f"^{tmp_path}: the judge has no trait regressor"):
        Judge.load(tmp_path).predict_traits(images(1))
    with pytest.raises(FileNotFoundError, match="^this judge: the judge has no trait regressor"):
        small_judge().predict_traits(images(1))  # trained here, never saved: no folder to name


def test_the_style_head_survives_save_load_and_a_judge_without_one_says_so(tmp_path):
    judge = small_judge()
    judge.save(tmp_path / "plain")
    plain = Judge.load(tmp_path / "plain")
    assert not plain.has_style
    with pytest.raises(FileNotFoundError, match=f"^{tmp_path / 'plain'}: the judge has no style head"):
        plain.realistic_probability(images(1))
    torch.manual_seed(1)
    styled = Judge(judge.net, judge.config, style=TraitNet(1, 4, 32))
    styled.save(tmp_path / "styled")
    loaded = Judge.load(tmp_path / "styled")
    p = loaded.realistic_probability(images(6))
    assert loaded.has_style and p.shape == (6,) and ((p > 0) & (p < 1)).all()
    assert np.allclose(p, styled.realistic_probability(images(6)), atol=1e-6)


def test_probe_verification_pairs_never_an_image_with_its_own_copy():
    # 3 identities, 2 images each; probe image i of identity k is orthogonal to gallery image i
    # of the same identity (its own copy) but equal to gallery image j != i: only the cross pairs count
    e = np.eye(6).reshape(3, 2, 6)
    gallery = e
    probe = e[:, ::-1]  # probe 0 = gallery 1, probe 1 = gallery 0
    figures = probe_verification(probe, gallery)
    assert figures["same_identity_cosine"] == 1.0 and figures["other_identity_cosine"] == 0.0
    assert figures["auc"] == 1.0


def test_blur_keeps_flat_images_and_mass_and_sigma_zero_is_identity():
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(gaussian_blur(x, torch.zeros(2)), x, atol=1e-6)
    flat = torch.full((1, 3, 8, 8), 0.3)
    assert torch.allclose(gaussian_blur(flat, torch.tensor([2.0])), flat, atol=1e-6)
    blurred = gaussian_blur(x, torch.tensor([1.5, 1.5]))
    assert blurred.std() < x.std()  # smoothing lowers the pixel spread
