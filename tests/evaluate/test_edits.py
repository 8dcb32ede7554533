"""The edit evaluation's parts: edited weights, and the train-only strength choice."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from fakes import TableJudge

from w2w.evaluate.edits import Scores, Unedited, choose_strength, drawable_summary, weight_edits


def test_weight_edits_move_each_identity_towards_its_target():
    base = Unedited(np.zeros((2, 3), np.float32), None, None, None)
    displacements = np.array([[1.0, 0, 0], [0, 1.0, 0]])  # (A, D)
    signs = np.array([[1.0, -1.0], [-1.0, 1.0]])  # (M, A)
    edited = weight_edits(base, displacements, signs, 2.0).reshape(2, 2, 3)
    assert np.array_equal(edited[0, 1], [0, -2, 0]) and np.array_equal(edited[1, 0], [-2, 0, 0])


def scores(flip_rate: float) -> Scores:
    flip = np.zeros((10, 1), bool)
    flip[: int(round(flip_rate * 10))] = True
    return Scores(flip, np.ones((10, 1)), np.ones((10, 1)), np.zeros((10, 1)), None)


def test_strength_is_the_smallest_reaching_the_target_else_the_best():
    assert choose_strength({1.0: scores(0.5), 2.0: scores(0.9), 3.0: scores(1.0)}, 0.9) == 2.0
    assert choose_strength({1.0: scores(0.3), 2.0: scores(0.7), 3.0: scores(0.6)}, 0.9) == 2.0


def test_flip_kept_shift_and_similarity_on_known_judgements():
    from types import SimpleNamespace

    from w2w.evaluate.edits import score

    # 2 identities, edits of judge attributes 0 and 1 (of 3); unedited probabilities:
    base_probs = np.array([[0.2, 0.8, 0.3], [0.7, 0.1, 0.9]])        # judged [F T F], [T F T]
    targets = np.array([[True, False], [False, True]])               # the opposite of each
    edited = np.array([[0.9, 0.8, 0.3],    # id 0, attr 0 -> True: flipped, others kept, shift +0.7
                       [0.2, 0.6, 0.6],    # id 0, attr 1 -> False: not flipped, attr 2 changed, +0.2
                       [0.3, 0.1, 0.9],    # id 1, attr 0 -> False: flipped, others kept, +0.4
                       [0.7, 0.4, 0.2]])   # id 1, attr 1 -> True: not flipped, attr 2 changed, +0.3
    embeddings = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [-1.0, 0.0]])
    images = np.zeros((2, 2, 1, 4, 4, 3), np.uint8)
    images[..., 0, 0, 0] = np.arange(4).reshape(2, 2, 1)           # image code = row of the tables
    base = Unedited(np.zeros((2, 3)), None, base_probs, np.array([[1.0, 0.0], [0.0, 1.0]]))
    ctx = SimpleNamespace(judge=TableJudge(edited, embeddings))
    scores = score(ctx, base, [0, 1], images, targets)
    assert scores.trait_change is None                           # this judge has no trait regressor
    assert scores.flip.tolist() == [[True, False], [True, False]]
    assert scores.others_kept == pytest.approx(np.array([[1.0, 0.5], [1.0, 0.5]]))
    assert scores.target_shift == pytest.approx(np.array([[0.7, 0.2], [0.4, 0.3]]))
    assert scores.identity_similarity == pytest.approx(np.array([[1.0, 0.0], [0.8, 0.0]]))
    summary = scores.summary(["A", "B"])
    assert summary["flip_rate"] == {"A": 1.0, "B": 0.0} and summary["target_shift_mean"] == pytest.approx(0.4)


def test_trait_change_is_the_mean_absolute_move_of_the_estimated_traits_in_population_sds():
    from types import SimpleNamespace

    from w2w.evaluate.edits import score

    # 1 identity, 2 edits of judge attributes 0 and 1; two samples per model, codes 0-1 edit A, 2-3 edit B
    probs = np.full((4, 2), 0.5)
    traits = np.array([[2.0, 0.0], [4.0, 0.0],       # edit A: mean (3, 0)
                       [1.0, 2.0], [1.0, -2.0]])     # edit B: mean (1, 0)
    images = np.zeros((1, 2, 2, 4, 4, 3), np.uint8)
    images[..., 0, 0, 0] = np.arange(4).reshape(1, 2, 2)
    base = Unedited(np.zeros((1, 3)), None, np.array([[0.4, 0.4]]), np.array([[1.0, 0.0]]),
                    traits=np.array([[1.0, 0.0]]))  # unedited estimate (2, 0) in units of sd 2
    ctx = SimpleNamespace(judge=TableJudge(probs, np.ones((4, 2)) / np.sqrt(2), traits, trait_std=2.0))
    scores = score(ctx, base, [0, 1], images, np.array([[True, True]]))
    # A: mean(|1.5 - 1|, |0 - 0|); B: mean(|0.5 - 1|, |0 - 0|)
    assert scores.trait_change == pytest.approx(np.array([[0.25, 0.25]]))


def fake_edits(monkeypatch, raw: np.ndarray, per_attribute: bool = False, table: pd.DataFrame | None = None):
    """measure_edits on a fake sweep: train identities reach the flip target at strength 2, held-out
    ones already at 1; prompting flips half of the train identities' edits, none of the held-out ones'.
    Returns what each sweep was asked for and the outputs."""
    from types import SimpleNamespace

    from committed import section

    import w2w.evaluate.edits as edits

    train_rows, held_rows = np.arange(0, 20), np.arange(20, 30)
    rate = {"train": {1.0: 0.5, 2.0: 0.95, 3.0: 1.0}, "held": {1.0: 0.9, 2.0: 1.0, 3.0: 1.0}}
    prompting = {"train": 0.5, "held": 0.0}
    asked = {}

    def fake_sweep(ctx, rows, attributes, displacements, p, prompt, strengths=None):
        split = "held" if np.array_equal(rows, held_rows) else "train"
        asked[split] = strengths
        m = len(rows)
        base = Unedited(np.zeros((m, 3)), np.zeros((m, 1, 2, 2, 3), np.uint8), None, None)

        def scores(flip_rate):
            flip = np.zeros((m, 1), bool)
            flip[: int(round(flip_rate * m))] = True  # (M, A): the rate, to the nearest identity
            ones = np.ones((m, 1))
            return Scores(flip, ones * (0.5 if split == "held" else 0.9), ones, ones * flip_rate,
                          np.zeros((m, 1, 1, 2, 2, 3), np.uint8))

        wanted = strengths or {}
        by_method = {method: {s: scores(r) for s, r in rate[split].items()
                              if s in wanted.get(method, p.strengths)} for method in displacements}
        return base, {**by_method, "prompt": {0.0: scores(prompting[split])}}

    monkeypatch.setattr(edits, "sweep", fake_sweep)
    monkeypatch.setattr(edits, "w2w_displacements", lambda basis, directions, names: np.array([[1.0, 0, 0]]))
    monkeypatch.setattr(edits, "raw_displacements", lambda ctx, basis, names, dp: raw)
    def rows(heldout, n, seed, start=0):
        if not heldout:
            return train_rows
        asked["start"] = start
        return held_rows

    ctx = SimpleNamespace(judge=SimpleNamespace(attribute_names=["Eyeglasses"]), rows=rows,
                          table=pd.DataFrame({"identity_id": np.arange(30)}) if table is None else table)
    directions = SimpleNamespace(attributes=["Eyeglasses"])
    p = section("evaluate_edits", strengths=[1.0, 2.0, 3.0], flip_target=0.9, grid_identities=2,
                heldout_offset=7, strength_per_attribute=per_attribute)
    return asked, edits.measure_edits(ctx, None, directions, p, section("directions"), "sks person")


def test_the_strength_is_chosen_on_train_identities_and_reported_on_held_out_ones(monkeypatch):
    """The report must use strength 2, and its figures must be the held-out ones at 2; against
    prompting, w2w is read at 1, where train identities flip as often as prompting makes them."""
    asked, (metrics, curve, grids) = fake_edits(monkeypatch, raw=np.array([[0.0, 1.0, 0]]))
    assert metrics["strength"] == 2.0 and metrics["raw_weight_baseline"]["strength"] == 2.0
    assert metrics["identities"] == 10 and metrics["identity_similarity_mean"] == 0.5  # held-out rows
    assert metrics["flip_rate_mean"] == 1.0 and metrics["target_shift_mean"] == pytest.approx(1.0)
    assert metrics["train_flip_rate"]["w2w"] == {"1.0": 0.5, "2.0": 0.95, "3.0": 1.0}
    assert [row["strength"] for row in curve] == [1.0, 2.0, 3.0]
    assert [row["w2w_flip"] for row in curve] == [0.5, 0.95, 1.0]  # the train figures the choice saw
    # held-out: once, at the chosen strengths only
    assert asked == {"train": None, "start": 7, "held": {"w2w": [1.0, 2.0], "raw_weights": [2.0]}}
    matched = metrics["w2w_vs_prompting"]  # paired: prompting flips nothing, identity 0.5 as well
    assert matched["strength"] == 1.0 and matched["flip_rate_mean"] == pytest.approx(0.9)
    assert matched["flip_rate_difference"] == pytest.approx(0.9)
    assert matched["identity_similarity_difference"] == 0.0
    at_strength = metrics["w2w_vs_prompting_at_strength"]
    assert at_strength["flip_rate_difference"] == 1.0 and at_strength["flip_rate_difference_ci"] == [1.0, 1.0]
    assert metrics["raw_weight_baseline"]["rendered"] is True
    assert grids["Eyeglasses"].shape[1] == 5  # original, w2w, w2w matched, prompting, raw


def test_a_raw_direction_that_is_the_w2w_one_is_not_rendered(monkeypatch):
    asked, (metrics, curve, grids) = fake_edits(monkeypatch, raw=np.array([[1.0, 0.01, 0]]))
    assert asked == {"train": None, "start": 7, "held": {"w2w": [1.0, 2.0]}}
    assert metrics["raw_weight_baseline"] == {"rendered": False,
                                              "max_relative_difference": pytest.approx(0.01)}
    assert "raw_weights_flip" not in curve[0] and grids["Eyeglasses"].shape[1] == 4


def test_matched_strength_reaches_prompting_flip_rate():
    from w2w.evaluate.edits import matched_strength

    sweep = {3.0: scores(0.8), 1.0: scores(0.2), 2.0: scores(0.4)}   # in any order
    assert matched_strength(sweep, scores(0.3)) == pytest.approx(1.5)  # between the strengths around it
    assert matched_strength(sweep, scores(0.7)) == pytest.approx(2.75)
    assert matched_strength(sweep, scores(0.4)) == 2.0                 # reached exactly at a step
    assert matched_strength(sweep, scores(0.1)) == 1.0                 # the first already flips as often
    assert matched_strength(sweep, scores(0.9)) == 3.0                 # none reaches it: the most flipping
    # the first crossing, not a later strength that falls back to prompting's rate
    assert matched_strength({1.0: scores(0.2), 2.0: scores(0.6), 3.0: scores(0.5)}, scores(0.5)) == 1.75


def test_each_attribute_takes_the_rule_alone():
    from w2w.evaluate.edits import attribute_strengths

    def two(a: float, b: float) -> Scores:  # attribute 0 flips at rate a, attribute 1 at rate b
        first, second = scores(a), scores(b)
        return replace(first, flip=np.concatenate([first.flip, second.flip], 1))

    sweep = {1.0: two(0.9, 0.2), 2.0: two(1.0, 0.6), 3.0: two(1.0, 0.5)}
    assert attribute_strengths(sweep, 0.9).tolist() == [1.0, 2.0]  # the second never reaches: its best
    assert choose_strength(sweep, 0.9) == 2.0                       # one strength for both: the mean's


def test_per_attribute_strengths_are_chosen_on_train_identities_and_read_once_held_out(monkeypatch):
    asked, (metrics, curve, grids) = fake_edits(monkeypatch, raw=np.array([[1.0, 0.01, 0]]),
                                                per_attribute=True)
    assert metrics["strengths"] == {"Eyeglasses": 2.0}                      # the train rule, per attribute
    assert asked["held"] == {"w2w": [1.0, 2.0], "w2w_per_attribute": [1.0]}  # scaled directions at 1
    assert metrics["flip_rate_mean"] == pytest.approx(0.9)                  # the headline: per attribute
    assert metrics["one_strength"]["flip_rate_mean"] == 1.0                 # beside it: one strength (2)
    assert metrics["strength"] == 2.0


def test_the_drawable_figures_average_each_identitys_drawable_edits_only():
    flip = np.array([[True, False, False], [True, True, True]])        # (M, A)
    similarity = np.array([[0.8, 0.0, 0.2], [0.5, 0.5, 0.5]])
    drawn = np.array([[True, False, True], [True, True, True]])         # the first's second: never drawn
    sc = Scores(flip, similarity, np.ones((2, 3)), np.zeros((2, 3)), None, np.full((2, 3), 0.3))
    out = drawable_summary(sc, drawn)
    assert out["flip_rate_mean"] == pytest.approx((0.5 + 1.0) / 2)      # not (1/3 + 1) / 2
    assert out["identity_similarity_mean"] == pytest.approx((0.5 + 0.5) / 2)
    assert out["trait_change_mean"] == pytest.approx(0.3)
    assert (out["edits"], out["never_drawn"]) == (5, 1)
    assert "target_shift_mean" not in out                               # the world's own edit has none


def test_in_the_world_the_edits_it_never_draws_are_read_apart(monkeypatch):
    from w2w.world.dataset import identity_table
    from w2w.world.identity import sample_identity

    people = [sample_identity(i, 0) for i in range(30)]
    table = identity_table(people, np.zeros(30, bool))
    _, (photos, _, _) = fake_edits(monkeypatch, raw=np.array([[1.0, 0.01, 0]]))
    assert "drawable" not in photos                                    # photos: no truth to judge by
    _, (metrics, _, _) = fake_edits(monkeypatch, raw=np.array([[1.0, 0.01, 0]]), table=table)
    assert (metrics["drawable"]["edits"], metrics["drawable"]["never_drawn"]) == (10, 0)  # glasses: all drawn
    assert metrics["drawable"]["flip_rate_mean"] == metrics["flip_rate_mean"]
