import numpy as np
import pytest

from w2w.world.captions import caption_for, named_attributes, vocabulary
from w2w.world.identity import (
    ATTRIBUTES,
    GRADED,
    HAIR_COLOURS,
    TRAITS,
    correlate_traits,
    sample_grades,
    sample_identity,
    split_identities,
)


def population(n: int = 3000) -> list:
    return [sample_identity(i, seed=0) for i in range(n)]


def rate(people, attribute, where=lambda p: True) -> float:
    chosen = [p for p in people if where(p)]
    return float(np.mean([p.attributes[attribute] for p in chosen]))


def test_at_least_ten_celeba_attributes_and_traits():
    assert len(ATTRIBUTES) >= 10 and len(TRAITS) >= 4
    assert {"Male", "Young", "No_Beard", "Eyeglasses", "Bald"} <= set(ATTRIBUTES)


def test_real_face_correlations():
    people = population()
    beards = [p for p in people if not p.attributes["No_Beard"]]
    assert beards and all(p.attributes["Male"] for p in beards)
    bald = [p for p in people if p.attributes["Bald"]]
    assert np.mean([p.attributes["Male"] for p in bald]) > 0.95
    assert np.mean([not p.attributes["Young"] for p in bald]) > 0.7
    gray = [p for p in people if p.attributes["Gray_Hair"]]
    assert np.mean([not p.attributes["Young"] for p in gray]) > 0.8
    for p in people:
        assert sum(p.attributes[c] for c in HAIR_COLOURS) <= 1
    assert 0.05 < rate(people, "Eyeglasses") < 0.6


def test_identity_is_a_function_of_seed_and_id():
    assert sample_identity(5, 0) == sample_identity(5, 0)
    assert sample_identity(5, 0) != sample_identity(5, 1)
    assert sample_identity(5, 0).traits != sample_identity(6, 0).traits


def test_split_is_fixed_by_seed():
    a, b = split_identities(100, 0.2, 0), split_identities(100, 0.2, 0)
    assert a.sum() == 20 and np.array_equal(a, b)
    assert not np.array_equal(a, split_identities(100, 0.2, 1))


def test_captions_name_the_attributes():
    attrs = {a: False for a in ATTRIBUTES}
    attrs.update(Male=True, Young=False, No_Beard=False, Eyeglasses=True, Blond_Hair=True)
    assert caption_for(attrs) == "a photo of an old man with a beard, eyeglasses and blond hair"
    attrs = {a: False for a in ATTRIBUTES}
    attrs.update(Young=True, No_Beard=True, Chubby=True)
    assert caption_for(attrs) == "a photo of a chubby young woman"
    assert vocabulary(["a photo of a man", "a photo, a cat"]) == ["a", "cat", "man", "of", "photo"]


def test_captions_of_any_celeba_subset():
    # a real attribute file: any of CelebA's 40 names, sex or age possibly unknown
    assert caption_for({"Smiling": True, "Wearing_Hat": True, "Eyeglasses": False}) == \
        "a photo of a smiling person with a hat"
    assert caption_for({"Male": False, "Young": True, "Blond_Hair": True, "Wearing_Lipstick": True,
                        "Bangs": False}) == "a photo of a young woman with blond hair and lipstick"
    assert caption_for({"Male": True, "No_Beard": False, "Mustache": True}) == \
        "a photo of a man with a beard and a mustache"
    assert named_attributes({"Male": True, "Smiling": True, "Bangs": False, "Mustache": True}) == \
        {"Male": True, "Smiling": True, "Mustache": True}


def test_grades_threshold_at_the_attributes_and_leave_the_identity_as_drawn():
    for identity_id in range(200):
        person = sample_identity(identity_id, 0)
        graded = sample_grades(person, 0)
        assert graded == sample_grades(person, 0)
        assert (graded.attributes, graded.traits) == (person.attributes, person.traits)
        for name in GRADED:
            assert 0.0 <= graded.grades[name] <= 1.0
            assert (graded.grades[name] >= 0.5) == person.attributes[name], (identity_id, name)
        if not person.attributes["Male"]:
            assert graded.grades["No_Beard"] == 1.0  # no woman has a beard, however faint
    strengths = np.array([[sample_grades(sample_identity(i, 0), 0).grades["Big_Nose"]] for i in range(400)])
    assert 0.2 < np.mean((strengths > 0.25) & (strengths < 0.75)) < 0.8  # half-way people exist


def test_coarse_grades_keep_the_labels_and_the_fine_grades():
    for identity_id in range(200):
        person = sample_identity(identity_id, 0)
        fine, coarse = sample_grades(person, 0), sample_grades(person, 0, coarse=True)
        assert all(coarse.grades[name] == fine.grades[name] for name in GRADED)
        assert (coarse.grades["Male"] >= 0.5) == person.attributes["Male"]
        hair = [coarse.grades[c] for c in HAIR_COLOURS]
        assert [h > 0.5 for h in hair] == [person.attributes[c] for c in HAIR_COLOURS]
        assert sum(hair) == pytest.approx(0.0 if person.attributes["Bald"] else 1.0)
        assert sum(h > 0 for h in hair) == (0 if person.attributes["Bald"] else 2)  # a mix of two colours


def test_a_margin_keeps_every_strength_that_far_from_the_threshold():
    for identity_id in range(200):
        person = sample_identity(identity_id, 0)
        assert sample_grades(person, 0, True, margin=0.0) == sample_grades(person, 0, True)
        kept = sample_grades(person, 0, coarse=True, margin=0.25).grades
        for name in (*GRADED, "Male"):
            low, high = (0.75, 1.0) if person.attributes[name] else (0.0, 0.25)
            if not (name == "No_Beard" and not person.attributes["Male"]):
                assert low <= kept[name] <= high, (identity_id, name, kept[name])
        other = sorted(kept[c] for c in HAIR_COLOURS)[-2]  # the weight of the colour mixed in
        assert other < 0.25 and sum(kept[c] for c in HAIR_COLOURS) == pytest.approx(
            0.0 if person.attributes["Bald"] else 1.0)
    with pytest.raises(ValueError, match="margin 0.5"):
        sample_grades(sample_identity(0, 0), 0, margin=0.5)


def test_traits_drawn_from_shared_factors_go_together_and_stay_uniform():
    """correlate_traits: each trait still uniform in [-1, 1], now correlated with the others (2 factors,
    communality 0.7: mean |r| 0.42 over these people, as `studies/correlated_traits.py` prints); the
    attributes and the identity as drawn again are the same; 0 factors change nothing."""
    people = population(2000)
    drawn = [correlate_traits(p, 0, 2, 0.7) for p in people]
    t = np.array([[p.traits[n] for n in TRAITS] for p in drawn])  # (people, T)
    assert t.min() >= -1 and t.max() <= 1
    assert np.abs(t.mean(0)).max() < 0.06 and np.abs(t.var(0) - 1 / 3).max() < 0.04  # uniform's 0, 1/3
    r = np.corrcoef(t.T)[np.triu_indices(len(TRAITS), 1)]
    alone = np.corrcoef(np.array([[p.traits[n] for n in TRAITS] for p in people]).T)
    assert 0.35 < np.abs(r).mean() < 0.5 and np.abs(alone[np.triu_indices(len(TRAITS), 1)]).mean() < 0.05
    assert all(d.attributes == p.attributes for d, p in zip(drawn, people, strict=True))
    assert correlate_traits(people[7], 0, 2, 0.7) == drawn[7]           # a pure function of (seed, id)
    assert correlate_traits(people[7], 1, 2, 0.7) != drawn[7]           # the world's seed moves the loadings
    assert correlate_traits(people[7], 0, 0, 0.7) is people[7]
    with pytest.raises(ValueError, match="communality 1"):
        correlate_traits(people[7], 0, 2, 1.0)
