"""Attributes-first sampling: a drawn identity and those who share its attributes, blended so that the
blend sits as far from the mean as one identity."""

import numpy as np
import pytest
from fakes import toy_basis

from w2w.space.alike import alike_groups, blend, sample_alike, sample_alike_coefficients

LABELS = np.array([[1, 0, 0], [1, 0, 0], [1, 0, 1], [0, 1, 1], [0, 1, 1], [0, 1, 0]], bool)


def test_a_group_is_the_drawn_identity_then_those_with_the_fewest_attributes_different():
    groups = alike_groups(LABELS, 200, 3, seed=0)
    for group in groups:
        first, others = group[0], group[1:]
        assert first not in others and len(set(group)) == 3
        differ = (LABELS[others] != LABELS[first]).sum(1)
        rest = np.setdiff1d(np.arange(len(LABELS)), group)
        assert differ.max() <= (LABELS[rest] != LABELS[first]).sum(1).min()   # none nearer left out
    # the drawn identity comes at the rows' own rates: every row is drawn first
    assert set(groups[:, 0]) == set(range(len(LABELS)))
    # rows 0 and 1 share every attribute: each is the other's first partner
    assert all(g[1] == 1 - g[0] for g in groups if g[0] in (0, 1))


def test_ties_are_broken_by_the_seed_and_the_same_seed_gives_the_same_groups():
    assert np.array_equal(alike_groups(LABELS, 50, 2, seed=3), alike_groups(LABELS, 50, 2, seed=3))
    # row 2 is one attribute away from rows 0 and 1, row 5 from rows 3 and 4: partners vary with the draw
    for row, alike in ((2, {0, 1}), (5, {3, 4})):
        partners = {g[1] for seed in range(40) for g in alike_groups(LABELS, 20, 2, seed) if g[0] == row}
        assert partners == alike


def test_a_blend_adds_displacements_from_the_mean_and_divides_by_sqrt_people():
    coefficients = np.array([[1.0, 0.0], [3.0, 2.0], [2.0, 4.0], [2.0, 2.0]])   # mean (2, 2)
    out = blend(coefficients, np.array([[0, 1], [2, 3], [0, 0]]))
    root2 = np.sqrt(2)
    # displacements (-1, -2) + (1, 0); (0, 2) + (0, 0); (-1, -2) twice
    assert out == pytest.approx(np.array([[2.0, 2.0 - 2 / root2], [2.0, 2.0 + 2 / root2],
                                          [2.0 - 2 / root2, 2.0 - 4 / root2]]))
    one = blend(coefficients, np.array([[1]]))   # a group of one is the identity itself
    assert one == pytest.approx(coefficients[[1]])


def test_sampled_models_are_blends_of_the_basis_train_identities():
    basis = toy_basis()
    labels = np.random.default_rng(1).random((50, 4)) < 0.5
    coef, groups = sample_alike_coefficients(basis, labels, 6, seed=2, people=4)
    centre = basis.train_coefficients.mean(0)
    assert coef == pytest.approx(centre + (basis.train_coefficients[groups] - centre).sum(1) / 2)
    assert np.allclose(sample_alike(basis, labels, 6, 2, 4), basis.to_weights(coef), atol=1e-5)


def test_bad_labels_or_group_sizes_are_named():
    basis = toy_basis()
    with pytest.raises(ValueError, match="one row per train identity of the basis \\(50\\), got 6"):
        sample_alike(basis, LABELS, 2, 0, 2)
    with pytest.raises(ValueError, match="people: between 1 and the 6 labelled identities, got 7"):
        alike_groups(LABELS, 2, 7, 0)
    with pytest.raises(ValueError, match="expected \\(identities, attributes\\)"):
        alike_groups(LABELS[0], 2, 1, 0)
