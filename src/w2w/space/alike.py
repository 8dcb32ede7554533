"""Sampling attributes first: a new identity as a blend of train identities nearest in attributes.

The reference samples each PCA coefficient from a Gaussian with the train variances
(`w2w.space.edit.sample`). Where attributes are binary, as in the miniature world, such a draw mixes
the attribute states of hundreds of people (half a beard, half a pair of glasses), and the base
draws one state or the other from seed to seed: the model is not one person. A blend of people who
share every attribute is (`studies/sample_blends.py`), and a blend of enough of them is as far from
each of them as a new person is (`studies/attribute_sampler.py`). This sampler is the miniature
profile's, reported beside the reference's and never in its place.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from w2w.space.attributes import attribute_columns
from w2w.space.basis import Basis


def attribute_labels(table: pd.DataFrame, identity_ids: np.ndarray) -> np.ndarray:
    """(len(identity_ids), A) bool: the table's attribute (bool) columns at those identities, in order.
    table: an identities table with an identity_id column (the world's identities.parquet)."""
    names = attribute_columns(table)
    if "identity_id" not in table.columns or not names:
        raise ValueError("expected an identity_id column and attribute (true/false) columns")
    by_id = table.set_index("identity_id")
    missing = np.setdiff1d(identity_ids, by_id.index.to_numpy())
    if len(missing):
        raise ValueError(f"no attributes for {len(missing)} of the space's {len(identity_ids)} train "
                         f"identities (e.g. identity {missing[0]})")
    return by_id.loc[np.asarray(identity_ids), names].to_numpy(bool)


def alike_groups(labels: np.ndarray, n: int, people: int, seed: int) -> np.ndarray:
    """(n, people) row indices of labels (T, A) bool: a random row first, so that attribute
    combinations come at the rows' own rates, then the people - 1 other rows with the fewest labels
    different from its own, ties in a seeded random order."""
    labels = np.asarray(labels, dtype=bool)
    if labels.ndim != 2:
        raise ValueError(f"labels: expected (identities, attributes), got shape {labels.shape}")
    if not 1 <= people <= len(labels):
        raise ValueError(f"people: between 1 and the {len(labels)} labelled identities, got {people}")
    rng = np.random.default_rng(seed)
    first = rng.integers(0, len(labels), n)
    groups = np.empty((n, people), dtype=np.int64)
    for i, row in enumerate(first):
        differ = (labels != labels[row]).sum(1).astype(float)
        differ[row] = -1  # the drawn row itself comes first
        groups[i] = np.lexsort((rng.random(len(labels)), differ))[:people]
    return groups


def blend(coefficients: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """(n, k): each group's displacements from the mean of coefficients (T, k) added and divided by
    sqrt(people). People's own particulars, unrelated across a group, add to one identity's spread;
    what the group shares (its attributes' states) is multiplied by sqrt(people): 12 people nearest
    in attributes sit about 1.5 times as far from the mean as one identity (the committed basis)."""
    centre = coefficients.mean(0)                                        # (k,)
    moved = coefficients[groups] - centre                                # (n, people, k)
    return centre + moved.sum(1) / np.sqrt(groups.shape[1])


def sample_alike_coefficients(basis: Basis, labels: np.ndarray, n: int, seed: int, people: int
                              ) -> tuple[np.ndarray, np.ndarray]:
    """n new identities' coefficients (n, basis.k), each a blend of `people` train identities nearest
    in attributes (`alike_groups`: all alike where enough are), and those identities' rows of
    basis.train_coefficients (n, people).
    labels (n_train, A): the train identities' attributes, in the basis's train order."""
    if len(labels) != len(basis.train_coefficients):
        raise ValueError(f"labels: one row per train identity of the basis "
                         f"({len(basis.train_coefficients)}), got {len(labels)}")
    groups = alike_groups(labels, n, people, seed)
    return blend(basis.train_coefficients, groups), groups


def sample_alike(basis: Basis, labels: np.ndarray, n: int, seed: int, people: int) -> np.ndarray:
    """n new identities' adapter weights (n, D); the same seed gives the same identities."""
    return basis.to_weights(sample_alike_coefficients(basis, labels, n, seed, people)[0])
