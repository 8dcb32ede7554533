"""Edits move exactly along directions; sampling is deterministic per seed."""

import numpy as np
from fakes import toy_basis

from w2w.space.directions import Directions
from w2w.space.edit import edit, sample, sample_coefficients


def test_edit_moves_coefficients_by_strength_times_scale_and_keeps_the_residual():
    basis = toy_basis()
    directions = Directions(["Eyeglasses", "Young"], np.eye(2, 5), np.array([2.0, 0.5]))
    w = np.random.default_rng(1).standard_normal(20).astype(np.float32)
    edited = edit(w, {"Eyeglasses": 1.5, "Young": -2.0}, basis, directions)
    moved = basis.to_coefficients(edited) - basis.to_coefficients(w)
    assert np.allclose(moved, [3.0, -1.0, 0, 0, 0], atol=1e-5)
    residual = lambda v: basis.standardise(v) - basis.to_coefficients(v) @ basis.components  # noqa: E731
    assert np.allclose(residual(edited), residual(w), atol=1e-5)


def test_sampling_is_deterministic_per_seed_and_matches_train_spread():
    basis = toy_basis()
    assert np.array_equal(sample(basis, 3, seed=7), sample(basis, 3, seed=7))
    assert not np.array_equal(sample(basis, 3, seed=7), sample(basis, 3, seed=8))
    many = sample_coefficients(basis, 20000, seed=0)
    assert np.allclose(many.std(0), basis.train_coefficients.std(0, ddof=1), rtol=0.05)
    full = sample_coefficients(basis, 20000, seed=0, covariance="full")
    assert np.allclose(np.cov(full, rowvar=False), np.cov(basis.train_coefficients, rowvar=False),
                       atol=0.05 * 25)
