"""Row blocks read ahead into reused buffers, and the one-pass column moments built on them."""

import threading

import numpy as np
import pytest
import zarr

from w2w.space.outofcore import Profile, sketch_and_moments
from w2w.space.stream import RowBlocks, block_ranges


def stored(x: np.ndarray, folder, chunk: int = 8) -> zarr.Array:
    group = zarr.open_group(folder, mode="w", zarr_format=3)
    array = group.create_array("weights", shape=x.shape, dtype="float32", chunks=(chunk, x.shape[1]),
                               shards=(chunk * 4, x.shape[1]), compressors=None)
    array[:] = x
    return array


def test_block_ranges_cover_the_selected_rows_once():
    rows = np.array([3, 4, 9, 17, 18, 19, 40])
    ranges = block_ranges(rows, 8)
    assert [(lo, hi) for lo, hi, _ in ranges] == [(0, 8), (8, 16), (16, 24), (40, 41)]
    assert np.array_equal(np.concatenate([lo + local for lo, _, local in ranges]), rows)


@pytest.mark.parametrize("rows", [np.arange(100), np.arange(3, 97, 3), np.array([0, 1, 2, 50, 99])])
def test_a_pass_yields_exactly_the_selected_rows_in_order(rows, tmp_path):
    x = np.random.default_rng(0).standard_normal((100, 12)).astype(np.float32)
    blocks = RowBlocks(stored(x, tmp_path / "w.zarr"), rows, block=16)
    for _ in range(2):  # a second pass reuses the same buffers and reads the same rows
        seen = {}
        for start, block in blocks():
            assert any(np.shares_memory(block, b) for b in blocks.buffers)
            seen[start] = block.copy()
        assert np.array_equal(np.concatenate([seen[s] for s in sorted(seen)]), x[rows])
    assert blocks.times.bytes_read > 0 and blocks.times.read_s > 0


def test_prepare_runs_on_every_block_before_it_is_handed_over(tmp_path):
    x = np.random.default_rng(1).standard_normal((50, 6)).astype(np.float32)
    blocks = RowBlocks(stored(x, tmp_path / "w.zarr"), np.arange(50), block=8)
    out = np.concatenate([b.copy() for _, b in blocks(lambda b: np.multiply(b, 2, out=b))])
    assert np.array_equal(out, 2 * x)


def test_an_error_in_the_reader_reaches_the_consumer(tmp_path):
    blocks = RowBlocks(stored(np.ones((64, 4), np.float32), tmp_path / "w.zarr"), np.arange(64), block=8)

    def refuse(block):
        raise ValueError("bad block")

    with pytest.raises(ValueError, match="bad block"):
        for _ in blocks(refuse):
            pass


def test_stopping_a_pass_early_ends_its_reader(tmp_path):
    x = np.arange(256, dtype=np.float32).reshape(64, 4)
    blocks = RowBlocks(stored(x, tmp_path / "w.zarr"), np.arange(64), block=8)
    before = threading.active_count()
    for start, _ in blocks():
        if start >= 8:
            break  # the reader is a block ahead, waiting for a free buffer
    assert threading.active_count() == before
    assert np.array_equal(np.concatenate([b.copy() for _, b in blocks()]), x)


def test_the_first_pass_keeps_the_variance_of_columns_far_from_zero_and_sketches_z(tmp_path):
    """Column 0: a LoRA entry every identity moved a little from the shared init, mean 3e3 x spread."""
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((300, 5)) * [1e-3, 1, 1e-2, 5, 0] + [3.0, -2, 30, 0, 0.7]).astype(np.float32)
    omega = rng.standard_normal((5, 3)).astype(np.float32)
    blocks = RowBlocks(stored(x, tmp_path / "w.zarr"), np.arange(300), block=64)
    mean, var, sketch = sketch_and_moments(blocks, omega, Profile())
    exact = x.astype(np.float64)
    assert (np.abs(mean - exact.mean(0)) <= 1e-5 * exact.std(0)).all()  # to 1e-5 of each spread
    assert np.allclose(var[:4], exact.var(0)[:4], rtol=1e-4, atol=0) and var[4] == 0
    # sketch = (x - mean) @ (omega / D1), D1 the first block's column spreads (constant: 1)
    first = exact[:64].std(0)
    test = omega / np.where(first > 1e-12, first, 1.0)[:, None]
    assert np.allclose(sketch, (exact - exact.mean(0)) @ test, rtol=1e-3, atol=1e-3 * np.abs(sketch).max())
