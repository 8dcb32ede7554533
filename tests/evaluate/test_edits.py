"""The edit evaluation's parts: prompt forms, edited weights, and the train-only strength choice."""

import numpy as np
import pytest

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
    with pytest.raises(ValueError, match="Smiling"):
        prompt_edit("Smiling", True)


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
