"""The edit evaluation's parts: prompt forms, edited weights, and the train-only strength choice."""

import numpy as np
import pytest
from fakes import TableJudge

from w2w.evaluate.edits import Scores, Unedited, choose_strength, prompt_edit, weight_edits
from w2w.world.identity import ATTRIBUTES


@pytest.mark.parametrize("attribute", ATTRIBUTES)
def test_every_world_attribute_has_both_prompt_forms(attribute):
    add, remove = prompt_edit(attribute, True), prompt_edit(attribute, False)
    assert add != remove
    assert all("sks" in prompt for prompt, _ in (add, remove))  # the identity's token stays


def test_prompt_forms_read_as_intended():
    assert prompt_edit("Eyeglasses", True) == ("sks person with eyeglasses", "")
    assert prompt_edit("Eyeglasses", False) == ("sks person", "a photo of a person with eyeglasses")
    assert prompt_edit("Male", False) == ("sks woman", "")
    assert prompt_edit("No_Beard", False) == ("sks person with a beard", "")
    # CelebA attributes of a folder source: the captions' words, else the attribute's name
    assert prompt_edit("Smiling", True) == ("smiling sks person", "")
    assert prompt_edit("Wearing_Hat", False) == ("sks person", "a photo of a person with a hat")
    assert prompt_edit("Attractive", True) == ("sks person, attractive", "")


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
    assert scores.flip.tolist() == [[True, False], [True, False]]
    assert scores.others_kept == pytest.approx(np.array([[1.0, 0.5], [1.0, 0.5]]))
    assert scores.target_shift == pytest.approx(np.array([[0.7, 0.2], [0.4, 0.3]]))
    assert scores.identity_similarity == pytest.approx(np.array([[1.0, 0.0], [0.8, 0.0]]))
    summary = scores.summary(["A", "B"])
    assert summary["flip_rate"] == {"A": 1.0, "B": 0.0} and summary["target_shift_mean"] == pytest.approx(0.4)


def test_the_strength_is_chosen_on_train_identities_and_reported_on_held_out_ones(monkeypatch):
    """Train identities reach the flip target at strength 2, held-out ones already at 1: the report
    must use 2, and its figures must be the held-out ones at 2."""
    from types import SimpleNamespace

    from committed import section

    import w2w.evaluate.edits as edits

    train_rows, held_rows = np.arange(0, 20), np.arange(20, 30)
    rate = {"train": {1.0: 0.5, 2.0: 0.95, 3.0: 1.0}, "held": {1.0: 0.9, 2.0: 1.0, 3.0: 1.0}}

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

        by_method = {method: {s: scores(r) for s, r in rate[split].items()} for method in displacements}
        return base, {**by_method, "prompt": {0.0: scores(0.0)}}

    monkeypatch.setattr(edits, "sweep", fake_sweep)
    monkeypatch.setattr(edits, "w2w_displacements", lambda basis, directions, names: np.zeros((1, 3)))
    monkeypatch.setattr(edits, "raw_displacements", lambda ctx, basis, names, dp: np.zeros((1, 3)))
    ctx = SimpleNamespace(judge=SimpleNamespace(attribute_names=["Eyeglasses"]),
                          rows=lambda heldout, n, seed: held_rows if heldout else train_rows)
    directions = SimpleNamespace(attributes=["Eyeglasses"])
    p = section("evaluate_edits", strengths=[1.0, 2.0, 3.0], flip_target=0.9, grid_identities=2)
    metrics, curve, _ = edits.measure_edits(ctx, None, directions, p, section("directions"), "sks person")
    assert metrics["strength"] == 2.0 and metrics["raw_weight_baseline"]["strength"] == 2.0
    assert metrics["identities"] == 10 and metrics["identity_similarity_mean"] == 0.5  # held-out rows
    assert metrics["flip_rate_mean"] == 1.0 and metrics["target_shift_mean"] == pytest.approx(1.0)
    assert metrics["train_flip_rate"]["w2w"] == {"1.0": 0.5, "2.0": 0.95, "3.0": 1.0}
    assert [row["strength"] for row in curve] == [1.0, 2.0, 3.0]
    assert [row["w2w_flip"] for row in curve] == [0.5, 0.95, 1.0]  # the train figures the choice saw
    assert asked == {"train": None, "held": {"w2w": [2.0], "raw_weights": [2.0]}}  # held-out: once
    vs_prompt = metrics["w2w_vs_prompting"]  # paired: prompting flips nothing, identity 0.5 as well
    assert vs_prompt["flip_rate_difference"] == 1.0 and vs_prompt["flip_rate_difference_ci"] == [1.0, 1.0]
    assert vs_prompt["identity_similarity_difference"] == 0.0
