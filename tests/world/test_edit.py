"""The world's own edit: one attribute changed, as the world draws it, and nothing else."""

from dataclasses import replace

import numpy as np

from w2w.world.dataset import render_identity
from w2w.world.edit import drawn_edits, never_drawn, world_edit
from w2w.world.identity import ATTRIBUTES, HAIR_COLOURS, sample_identity


def person(**attributes) -> object:
    identity = sample_identity(7, 0)
    hair = {c: False for c in HAIR_COLOURS}
    return replace(identity, attributes={**identity.attributes, **hair, "Bald": False, "Male": True,
                                         "No_Beard": True, "Eyeglasses": False, **attributes})


def test_an_edit_changes_only_its_attribute_and_keeps_traits_and_id():
    p = person(Black_Hair=True)
    for attribute in ("Eyeglasses", "Young", "Male", "No_Beard", "Pale_Skin", "Chubby", "Narrow_Eyes",
                      "Big_Nose"):
        edited = world_edit(p, attribute)
        assert edited.attributes[attribute] != p.attributes[attribute]
        assert {a for a in ATTRIBUTES if edited.attributes[a] != p.attributes[a]} == {attribute}
        assert (edited.identity_id, edited.traits) == (p.identity_id, p.traits)


def test_hair_is_one_state_a_new_colour_replaces_the_old_and_baldness_takes_it():
    p = person(Black_Hair=True)
    assert {c for c in HAIR_COLOURS if world_edit(p, "Blond_Hair").attributes[c]} == {"Blond_Hair"}
    assert {c for c in HAIR_COLOURS if world_edit(p, "Black_Hair").attributes[c]} == {"Brown_Hair"}
    brown = person(Brown_Hair=True)
    assert {c for c in HAIR_COLOURS if world_edit(brown, "Brown_Hair").attributes[c]} == {"Black_Hair"}
    bald = world_edit(p, "Bald")
    assert bald.attributes["Bald"] and not any(bald.attributes[c] for c in HAIR_COLOURS)
    back = world_edit(bald, "Bald")
    assert not back.attributes["Bald"] and back.attributes["Brown_Hair"]
    assert not world_edit(person(Bald=True), "Gray_Hair").attributes["Bald"]  # a colour asked for: hair


def test_the_edited_person_is_drawn_in_the_same_scenes_and_differs_only_where_the_attribute_is():
    p = person(Brown_Hair=True)
    same = render_identity(p, 2, seed=0, stream=4, size=32)
    assert np.array_equal(same, render_identity(p, 2, seed=0, stream=4, size=32))
    glasses = render_identity(world_edit(p, "Eyeglasses"), 2, seed=0, stream=4, size=32)
    changed = np.any(glasses != same, axis=-1)                  # (2, S, S)
    assert changed.any(axis=(1, 2)).all()                       # every render shows the edit
    assert changed.mean() < 0.2                                 # and the scene around it is the same


def test_a_graded_persons_changed_cue_is_drawn_in_full():
    p = replace(person(Eyeglasses=False), grades={"Eyeglasses": 0.3, "Chubby": 0.7})
    edited = world_edit(p, "Eyeglasses")
    assert edited.grades == {"Eyeglasses": 1.0, "Chubby": 0.7}


def test_beards_and_baldness_on_women_are_never_drawn():
    woman = person(Male=False, Brown_Hair=True)
    assert never_drawn(woman, "No_Beard") and never_drawn(woman, "Bald")
    assert not never_drawn(woman, "Eyeglasses") and not never_drawn(person(Brown_Hair=True), "No_Beard")
    # a bearded or bald man made a woman keeps his beard or baldness: the world never draws her
    assert never_drawn(person(No_Beard=False, Brown_Hair=True), "Male")
    assert never_drawn(person(Bald=True), "Male") and not never_drawn(person(Brown_Hair=True), "Male")


def test_drawn_edits_mark_each_persons_edits_the_world_draws():
    woman, man = person(Male=False, Brown_Hair=True), person(Brown_Hair=True)
    drawn = drawn_edits([woman, man], ["No_Beard", "Eyeglasses", "Bald"])
    assert drawn.tolist() == [[False, True, False], [True, True, True]]
    assert drawn_edits([], ["Bald"]).shape == (0, 1)
