"""Attribute classifiers, debiasing and the strength unit."""

import numpy as np
import pytest
from committed import section
from sklearn.metrics import roc_auc_score

from w2w.space.directions import Directions, fit_directions, fit_scored_directions, heldout_scores


def labelled(n: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6))
    male = x[:, 0] + 0.3 * rng.standard_normal(n) > 0
    bald = x[:, 0] + x[:, 1] + 0.3 * rng.standard_normal(n) > 1  # correlated with Male
    return x, {"Male": male, "Bald": bald}


@pytest.mark.parametrize("method", ["logistic", "least_squares"])
def test_classifiers_separate_held_out_rows(method):
    (x, y), (xt, yt) = labelled(400, 0), labelled(200, 1)
    directions, auc = fit_directions(x, y, xt, yt, section("directions", method=method, debias={}))
    assert min(auc.values()) > 0.9
    assert np.allclose(np.linalg.norm(directions.directions, axis=1), 1.0)
    # the strength unit: one train standard deviation along the direction
    assert np.allclose((x @ directions.directions.T).std(0), directions.scales)


def test_debiasing_removes_the_listed_correlates():
    (x, y), (xt, yt) = labelled(400, 0), labelled(200, 1)
    plain, _ = fit_directions(x, y, xt, yt, section("directions", debias={}))
    debiased, _ = fit_directions(x, y, xt, yt, section("directions", debias={"Bald": ["Male"]}))
    male = plain.directions[plain.attributes.index("Male")]
    bald = debiased.directions[debiased.attributes.index("Bald")]
    assert abs(plain.directions[plain.attributes.index("Bald")] @ male) > 0.3
    assert abs(bald @ male) < 1e-9


def test_unknown_debias_attribute_is_refused():
    (x, y), (xt, yt) = labelled(100, 0), labelled(50, 1)
    with pytest.raises(ValueError, match="Smiling"):
        fit_directions(x, y, xt, yt, section("directions", debias={"Bald": ["Smiling"]}))


def test_directions_round_trip(tmp_path):
    d = Directions(["A", "B"], np.eye(2, 5), np.array([2.0, 3.0]))
    d.save(tmp_path / "d", {"A": ["B"]})
    loaded = Directions.load(tmp_path / "d")
    assert loaded.attributes == ["A", "B"] and np.allclose(loaded.vector("B"), 3 * np.eye(2, 5)[1])
    with pytest.raises(KeyError, match="known: A, B"):
        loaded.vector("C")


def test_heldout_scores_are_the_fitted_classifiers_own():
    (x, y), (xt, yt) = labelled(400, 0), labelled(200, 1)
    p = section("directions", debias={})
    directions, auc = fit_directions(x, y, xt, yt, p)
    scored, scores = fit_scored_directions(x, y, xt, p)
    assert {a: roc_auc_score(yt[a], scores[a]) for a in y} == auc
    assert np.array_equal(scored.directions, directions.directions)
    refit = heldout_scores(x, y, xt, p)                        # the classifiers alone, fitted the same way
    assert all(np.array_equal(refit[a], scores[a]) for a in y)
    # standardised features (the image control): a feature's units do not change the scores' order
    scaled = heldout_scores(x * [1, 1e3, 1, 1, 1, 1], y, xt * [1, 1e3, 1, 1, 1, 1], p, standardise=True)
    plain = heldout_scores(x, y, xt, p, standardise=True)
    assert all(np.array_equal(np.argsort(scaled[a]), np.argsort(plain[a])) for a in y)
