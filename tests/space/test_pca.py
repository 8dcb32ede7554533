"""Every PCA method against an exact SVD, the standardisation guard, and the basis file."""

import numpy as np
import pytest
import zarr
from committed import section

from w2w.space.basis import Basis
from w2w.space.pca import choose_method, fit_basis


def low_rank_plus_noise(rows: int, cols: int, rank: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    spectrum = np.geomspace(50, 5, rank)
    u = np.linalg.qr(rng.standard_normal((rows, rank)))[0]
    v = np.linalg.qr(rng.standard_normal((cols, rank)))[0]
    x = (u * spectrum) @ v.T + 0.05 * rng.standard_normal((rows, cols))
    return (x * rng.uniform(0.5, 2.0, cols) + rng.standard_normal(cols)).astype(np.float32)


def exact_reference(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    x = x.astype(np.float64)
    std = x.std(0)
    z = (x - x.mean(0)) / np.where(std > 1e-12, std, 1.0)
    _, s, vt = np.linalg.svd(z, full_matrices=False)
    return s[:k], vt[:k]


def as_zarr(x: np.ndarray, folder) -> zarr.Array:
    group = zarr.open_group(folder, mode="w", zarr_format=3)
    return group.create_array("weights", data=x, chunks=(16, x.shape[1]), shards=(64, x.shape[1]))


@pytest.mark.parametrize("method", ["exact", "randomized", "out_of_core"])
def test_every_method_matches_an_exact_svd(method, tmp_path):
    x = low_rank_plus_noise(300, 120, 12)
    k = 10
    s_ref, v_ref = exact_reference(x, k)
    array = as_zarr(x, tmp_path / "w.zarr")
    rows = np.arange(300)
    basis = fit_basis(array, rows, rows, section("pca", components=k, method=method, block_rows=50))
    assert basis.method == method
    assert np.max(np.abs(basis.singular_values - s_ref) / s_ref) <= 0.01
    cosines = np.linalg.svd(basis.components @ v_ref.T, compute_uv=False)
    assert np.degrees(np.arccos(np.clip(cosines.min(), -1, 1))) < 2.0  # largest principal angle
    assert np.allclose(basis.components @ basis.components.T, np.eye(k), atol=1e-6)
    gap = np.abs(basis.train_coefficients - basis.to_coefficients(x)).max()
    assert gap <= 1e-3 * np.abs(basis.train_coefficients).max()  # stored = projected, to SVD accuracy


def test_out_of_core_uses_only_the_given_rows(tmp_path):
    x = low_rank_plus_noise(200, 60, 6)
    rows = np.arange(0, 200, 2)
    array = as_zarr(x, tmp_path / "w.zarr")
    ids = np.arange(1000, 1200)
    basis = fit_basis(array, rows, ids, section("pca", components=5, method="out_of_core", block_rows=32))
    s_ref, _ = exact_reference(x[rows], 5)
    assert np.max(np.abs(basis.singular_values - s_ref) / s_ref) <= 0.01
    assert np.array_equal(basis.train_identity_ids, ids[rows])


def test_auto_picks_by_size():
    p = section("pca", in_memory_max_gb=1.0)
    assert choose_method(500, 2688, p) == "exact"
    assert choose_method(5000, 20000, p) == "randomized"
    assert choose_method(64974, 99648, p) == "out_of_core"
    assert choose_method(10, 10, section("pca", method="randomized")) == "randomized"


def test_constant_parameters_are_guarded_and_the_basis_round_trips(tmp_path):
    x = low_rank_plus_noise(80, 30, 4)
    x[:, 3] = 0.7  # e.g. a LoRA B entry no identity moved
    array = as_zarr(x, tmp_path / "w.zarr")
    basis = fit_basis(array, np.arange(80), np.arange(80), section("pca", components=30, method="exact"))
    assert np.isfinite(basis.components).all() and basis.std[3] == 1.0
    assert np.allclose(basis.to_weights(basis.to_coefficients(x[5])), x[5], atol=1e-4)  # full rank
    basis.save(tmp_path / "basis")
    loaded = Basis.load(tmp_path / "basis")
    assert np.allclose(loaded.components, basis.components, atol=1e-7) and loaded.method == "exact"
    assert zarr.open_array(tmp_path / "basis" / "components", mode="r").shape == (30, 30)


def test_out_of_core_keeps_its_accuracy_when_means_dwarf_spreads(tmp_path):
    """LoRA entries every identity moved a little from the shared init: mean up to 1e3 x spread."""
    x = low_rank_plus_noise(400, 90, 8).astype(np.float64)
    x = x + np.random.default_rng(5).uniform(-1e3, 1e3, 90) * x.std(0)
    x = x.astype(np.float32)
    s_ref, v_ref = exact_reference(x, 6)
    array = as_zarr(x, tmp_path / "w.zarr")
    rows = np.arange(400)
    basis = fit_basis(array, rows, rows, section("pca", components=6, method="out_of_core", block_rows=64))
    assert np.max(np.abs(basis.singular_values - s_ref) / s_ref) <= 0.01
    cosines = np.linalg.svd(basis.components @ v_ref.T, compute_uv=False)
    assert np.degrees(np.arccos(np.clip(cosines.min(), -1, 1))) < 2.0
