"""The ladder's parts with known answers: which identities an evaluation takes, the projection's
residual, and the order and intervals of the rungs."""

import numpy as np
import pytest

from w2w.evaluate.ladder import ORDER, Rung, ladder, projected
from w2w.evaluate.stats import sample_rows
from w2w.space.basis import Basis


def test_row_samples_are_seeded_within_their_split_and_nested():
    heldout = np.arange(100) % 5 == 0                                      # 20 held-out rows
    rows = sample_rows(heldout, True, 8, seed=0)
    assert heldout[rows].all() and len(set(rows.tolist())) == 8
    assert not np.array_equal(rows, np.flatnonzero(heldout)[:8])         # a sample, not the first 8
    assert np.array_equal(sample_rows(heldout, True, 3, seed=0), rows[:3])  # a prefix: pairs across stages
    assert np.array_equal(sample_rows(heldout, True, 8, seed=0), rows)
    assert not np.array_equal(sample_rows(heldout, True, 8, seed=1), rows)
    assert (~heldout[sample_rows(heldout, False, 50, seed=0)]).all()
    assert len(sample_rows(heldout, True, 500, seed=0)) == 20              # at most all of them
    order = sample_rows(heldout, True, 20, seed=0)
    assert np.array_equal(sample_rows(heldout, True, 8, seed=0, start=5), order[5:13])  # skips the first 5
    wrapped = sample_rows(heldout, True, 8, seed=0, start=16)                # too few follow: wraps round
    assert np.array_equal(wrapped, np.concatenate([order[16:], order[:4]]))
    assert np.array_equal(sample_rows(heldout, True, 8, seed=0, start=36), wrapped)  # modulo the split


def basis_of(components: np.ndarray) -> Basis:
    k, d = components.shape
    return Basis(np.zeros(d), np.ones(d), components, np.ones(k), np.ones(k), np.ones(k),
                 np.zeros((1, k)), np.zeros(1, int))


def test_a_model_in_the_span_projects_onto_itself_and_one_outside_keeps_its_residual():
    basis = basis_of(np.eye(3)[:2])                                       # the span of e0, e1 in R^3
    inside, residual = projected(basis, np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 2.0], [1.0, 0.0, 1.0]]))
    assert inside == pytest.approx(np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
    assert residual == pytest.approx([0.0, 1.0, 1 / np.sqrt(2)])


def test_rungs_come_in_ladder_order_with_the_floor_last():
    ones = np.ones(4)
    rungs = [Rung("base with the generic prompt (floor)", ones * 0, ones),
             Rung("w2w inversion", ones * 0.3, ones * 0.8), Rung(ORDER[0], ones, ones * 0.1)]
    metrics, rows = ladder(rungs, {"extra": 1})
    assert [r["rung"] for r in metrics["rungs"]] == [ORDER[0], "w2w inversion",
                                                     "base with the generic prompt (floor)"]
    assert metrics["rungs"][1]["key"] == "w2w_inversion" and metrics["extra"] == 1
    assert metrics["rungs"][0]["similarity_mean_ci"] == [1.0, 1.0]
    assert rows[1] == {"rung": "w2w inversion", "similarity": 0.3, "similarity_lo": 0.3,
                       "similarity_hi": 0.3, "trait_error": 0.8, "trait_error_lo": 0.8,
                       "trait_error_hi": 0.8}
