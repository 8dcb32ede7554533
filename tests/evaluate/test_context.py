"""The evaluation context, opened with and without the stacked fleet, reads one world the same way."""

import math

import numpy as np

from w2w.evaluate.context import Context


def test_unstacked_context_matches_the_stacked_one(small_space):
    parts = small_space / "world", small_space / "base", small_space / "judge"
    stacked = Context.open(parts[0], small_space / "weights.zarr", *parts[1:])
    unstacked = Context.open_unstacked(*parts)
    assert unstacked.table.equals(stacked.table)
    assert np.array_equal(unstacked.heldout, stacked.heldout)  # the world's split is the stack's
    assert 0 < unstacked.heldout.sum() < len(unstacked.heldout)
    assert unstacked.images.shape == stacked.images.shape and unstacked.ood.shape == stacked.ood.shape
    assert unstacked.weights is None and unstacked.layout is None and math.isnan(unstacked.scaling)
    assert stacked.weights.shape[0] == len(stacked.table) and stacked.scaling > 0
