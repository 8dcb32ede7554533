"""Bootstrap intervals over identities, paired differences and three-way verdicts, on inputs whose
answers are known."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from w2w.evaluate.stats import auc_ci, bootstrap_ci, paired_difference_ci, per_identity, verdict


def test_identical_identities_give_a_point_interval():
    lo, hi = bootstrap_ci(np.full(20, 0.4))
    assert lo == pytest.approx(0.4) and hi == pytest.approx(0.4)


def test_identities_are_the_unit_of_resampling():
    # every identity has the same mean over its attributes, however much the attributes differ
    values = np.tile([0.0, 1.0, 0.5, 0.5], (30, 1))                                # (M, A)
    assert per_identity(values) == pytest.approx(np.full(30, 0.5))
    lo, hi = bootstrap_ci(values)
    assert lo == pytest.approx(0.5) and hi == pytest.approx(0.5)


def test_the_interval_has_the_normal_width_and_covers_the_mean():
    values = np.random.default_rng(3).normal(0.6, 0.2, size=400)
    lo, hi = bootstrap_ci(values, seed=1)
    half = 1.96 * values.std(ddof=1) / np.sqrt(len(values))                         # about 0.0196
    assert lo < values.mean() < hi
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.1)


def test_coverage_of_the_true_mean_is_near_95_percent():
    rng = np.random.default_rng(0)
    covered = [lo <= 0.3 <= hi for lo, hi in
               (bootstrap_ci(rng.normal(0.3, 0.1, size=40), seed=s, draws=500) for s in range(200))]
    assert 0.88 <= np.mean(covered) <= 0.99  # percentile bootstrap at M = 40 runs slightly narrow


def test_a_paired_difference_cancels_what_the_identities_share():
    rng = np.random.default_rng(5)
    identity = rng.normal(0, 1.0, size=32)  # large differences between identities
    a, b = identity + 0.1, identity + rng.normal(0, 0.01, size=32)
    paired = paired_difference_ci(a, b)
    unpaired_width = np.subtract(*bootstrap_ci(a)[::-1]) + np.subtract(*bootstrap_ci(b)[::-1])
    assert paired[0] > 0.09 and paired[1] < 0.11  # the 0.1 lead is clear once paired
    assert paired[1] - paired[0] < unpaired_width / 20
    with pytest.raises(ValueError, match="same identities"):
        paired_difference_ci(a, b[:-1])


def test_verdicts_are_three_way():
    assert verdict((0.72, 0.80), 0.7) == "met"
    assert verdict((0.60, 0.69), 0.7) == "not met"
    assert verdict((0.65, 0.75), 0.7) == "undecided"
    assert verdict((0.10, 0.20), 0.25, higher_is_better=False) == "met"  # e.g. an error below a goal
    assert verdict((0.20, 0.30), 0.25, higher_is_better=False) == "undecided"


def test_one_identity_is_refused():
    with pytest.raises(ValueError, match="at least 2 identities"):
        bootstrap_ci(np.array([0.5]))


def test_unpaired_difference_resamples_each_set_on_its_own():
    from w2w.evaluate.stats import unpaired_difference_ci
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.5, 0.1, 300), rng.normal(0.3, 0.2, 200)
    lo, hi = unpaired_difference_ci(a, b, seed=2)
    half = 1.96 * np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))   # about 0.030
    assert lo < a.mean() - b.mean() < hi
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.1)


def test_with_ci_and_paired_name_their_keys():
    from w2w.evaluate.stats import paired, with_ci
    figures = with_ci("flip_rate", np.ones((5, 3)))
    assert figures == {"flip_rate_mean": 1.0, "flip_rate_mean_ci": [1.0, 1.0]}
    diff = paired("gap", np.full(4, 0.7), np.full(4, 0.2))
    assert diff["gap"] == pytest.approx(0.5) and diff["gap_ci"] == pytest.approx([0.5, 0.5])


def scored(n: int, seed: int, signal: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.2
    return y, signal * y + rng.standard_normal(n)


def test_the_auc_interval_brackets_the_auc_and_narrows_with_identities():
    y, s = scored(120, 0)
    lo, hi = auc_ci(y, s)
    assert lo < roc_auc_score(y, s) < hi
    y4, s4 = scored(480, 0)
    lo4, hi4 = auc_ci(y4, s4)
    assert 1.6 < (hi - lo) / (hi4 - lo4) < 2.5                   # about sqrt(4)


def test_the_auc_interval_covers_the_true_auc_near_95_percent():
    true = 0.760  # P(N(1, 1) > N(0, 1)) = Phi(1 / sqrt 2)
    covered = [lo <= true <= hi for lo, hi in (auc_ci(*scored(120, seed), draws=500) for seed in range(60))]
    assert 0.85 <= np.mean(covered) <= 1.0


def test_the_auc_interval_counts_ties_half_and_needs_both_classes():
    y = np.array([True, False] * 20)
    assert auc_ci(y, np.where(y, 1.0, 0.0)) == (1.0, 1.0)         # separated: every resample is 1
    assert auc_ci(y, np.zeros(40)) == (0.5, 0.5)                  # all tied: every resample is 0.5
    with pytest.raises(ValueError, match="both classes"):
        auc_ci(np.ones(10, bool), np.arange(10.0))
