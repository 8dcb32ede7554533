"""The prompting baseline's forms: each attribute asked for, or taken away, in words."""

import pytest

from w2w.evaluate.prompting import prompt_edit
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
