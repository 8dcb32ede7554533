"""Each attribute is visible: toggling it changes pixels where its cue lives, and only there."""

from dataclasses import replace

import numpy as np
import pytest

from w2w.world.identity import ATTRIBUTES, GRADED, TRAITS, Identity
from w2w.world.render import _face_geometry, neutral_nuisance, render_face

SIZE = 64
TOL = 1.5 / SIZE  # box downsampling can bleed into the neighbouring output pixel


def base_identity(**changes: bool) -> Identity:
    attributes = {name: False for name in ATTRIBUTES}
    attributes.update(Male=True, Young=True, No_Beard=True, Black_Hair=True)
    attributes.update(changes)
    return Identity(7, attributes, {name: 0.0 for name in TRAITS})


def changed_box(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float, float] | None:
    """Unit-coordinate bounding box (x0, y0, x1, y1) of pixels that differ by > 8 levels."""
    ys, xs = np.nonzero(np.abs(a.astype(int) - b.astype(int)).max(axis=2) > 8)
    if len(xs) < 3:
        return None
    return xs.min() / SIZE, ys.min() / SIZE, (xs.max() + 1) / SIZE, (ys.max() + 1) / SIZE


def expected_region(attribute: str) -> tuple[float, float, float, float]:
    g = _face_geometry(base_identity())
    cx, cy, rx, ry = g["cx"], g["cy"], g["rx"], g["ry"]
    eye_y, eye_dx = cy - 0.12 * ry, 0.42 * rx
    above_eyes = (cx - 1.2 * rx, 0.0, cx + 1.2 * rx, eye_y - 0.01)
    if attribute == "Chubby":
        c = _face_geometry(base_identity(Chubby=True))
        half = 1.15 * c["rx"] + 0.04
        return (cx - half, cy - c["ry"] - 0.1, cx + half, cy + c["ry"] + 0.02)
    return {
        "Eyeglasses": (cx - eye_dx - 0.075, eye_y - 0.06, cx + eye_dx + 0.075, eye_y + 0.06),
        "Narrow_Eyes": (cx - eye_dx - 0.05, eye_y - 0.04, cx + eye_dx + 0.05, eye_y + 0.04),
        "Big_Nose": (cx - 0.085, eye_y - 0.01, cx + 0.085, cy + 0.22 * ry + 0.05),
        "No_Beard": (cx - rx - 0.01, cy, cx + rx + 0.01, cy + 1.15 * ry),
        "Young": (cx - 0.66 * rx, cy - 0.6 * ry, cx + 0.66 * rx, cy + 0.64 * ry),
        "Bald": above_eyes,
        "Blond_Hair": above_eyes,
        "Brown_Hair": above_eyes,
        "Gray_Hair": above_eyes,
        "Pale_Skin": (cx - rx - 0.05, cy - ry - 0.01, cx + rx + 0.05, 0.87),
        "Male": (cx - 1.4 * rx, cy - ry - 0.15, cx + 1.4 * rx, 0.9),
    }[attribute]


def toggled(attribute: str) -> Identity:
    if attribute in ("Blond_Hair", "Brown_Hair", "Gray_Hair", "Bald"):
        return base_identity(Black_Hair=False, **{attribute: True})
    base = base_identity()
    return base_identity(**{attribute: not base.attributes[attribute]})


@pytest.mark.parametrize("attribute", [a for a in ATTRIBUTES if a != "Black_Hair"])
def test_attribute_changes_only_its_region(attribute):
    nuisance = neutral_nuisance()
    before = render_face(base_identity(), nuisance, SIZE)
    after = render_face(toggled(attribute), nuisance, SIZE)
    box = changed_box(before, after)
    assert box is not None, f"{attribute} left the image unchanged"
    x0, y0, x1, y1 = expected_region(attribute)
    assert box[0] >= x0 - TOL and box[1] >= y0 - TOL, (attribute, box)
    assert box[2] <= x1 + TOL and box[3] <= y1 + TOL, (attribute, box)


def test_background_corners_never_change_with_identity():
    nuisance = neutral_nuisance()
    images = [render_face(toggled(a), nuisance, SIZE) for a in ATTRIBUTES if a != "Black_Hair"]
    corners = np.stack([img[:4, :4] for img in images])
    assert (corners == corners[0]).all()


def test_traits_change_the_face_and_nuisance_moves_it():
    nuisance = neutral_nuisance()
    base = base_identity()
    wide = replace(base, traits={**base.traits, "face_width": 1.0})
    assert changed_box(render_face(base, nuisance, SIZE), render_face(wide, nuisance, SIZE))
    turned = replace(nuisance, rotation_deg=5.0)
    assert changed_box(render_face(base, nuisance, SIZE), render_face(base, turned, SIZE))


def test_render_is_deterministic_and_uint8():
    a = render_face(base_identity(), neutral_nuisance(), 32)
    b = render_face(base_identity(), neutral_nuisance(), 32)
    assert a.dtype == np.uint8 and a.shape == (32, 32, 3)
    assert np.array_equal(a, b)


def test_painting_changes_statistics_but_keeps_layout():
    identity = base_identity(Eyeglasses=True)
    plain = render_face(identity, neutral_nuisance(), 32).astype(float)
    painted = render_face(identity, neutral_nuisance(), 32, painting=True).astype(float)
    assert np.abs(plain - painted).mean() > 8  # visibly a different style
    corr = np.corrcoef(plain.mean(2).ravel(), painted.mean(2).ravel())[0, 1]
    assert corr > 0.6  # but the same picture


def graded(identity: Identity, **grades: float) -> Identity:
    full = {name: float(identity.attributes[name]) for name in GRADED}
    return replace(identity, grades={**full, **grades})


def test_grades_at_the_attributes_draw_the_binary_world_exactly():
    for identity in (base_identity(), base_identity(Male=False, Young=False, Eyeglasses=True, Chubby=True,
                                                    Narrow_Eyes=True, Big_Nose=True, Pale_Skin=True),
                     base_identity(No_Beard=False)):
        assert np.array_equal(render_face(graded(identity), neutral_nuisance(), SIZE),
                               render_face(identity, neutral_nuisance(), SIZE))


@pytest.mark.parametrize("attribute", GRADED)
def test_a_half_way_grade_draws_a_half_way_cue(attribute):
    """Strength 0.5 changes the cue's region, by less than the full cue does there."""
    person = base_identity(Male=True, No_Beard=True)
    off, on = (render_face(graded(person, **{attribute: g}), neutral_nuisance(), SIZE).astype(int)
               for g in (0.0, 1.0))
    half = render_face(graded(person, **{attribute: 0.5}), neutral_nuisance(), SIZE).astype(int)
    full_change, half_change = np.abs(on - off).sum(), np.abs(half - off).sum()
    assert 0.15 * full_change < half_change < 0.95 * full_change, (half_change, full_change)
    assert changed_box(off, half) is not None


def test_coarse_grades_draw_sex_and_hair_half_way():
    person = base_identity(Male=True)  # black hair
    def drawn(male: float, black: float) -> np.ndarray:
        grades = {**{name: float(person.attributes[name]) for name in GRADED}, "Male": male,
                  "Black_Hair": black, "Blond_Hair": 1.0 - black, "Brown_Hair": 0.0, "Gray_Hair": 0.0}
        return render_face(replace(person, grades=grades), neutral_nuisance(), SIZE).astype(int)
    assert np.array_equal(drawn(1.0, 1.0), render_face(person, neutral_nuisance(), SIZE))
    for a, b, half in ((drawn(0.0, 1.0), drawn(1.0, 1.0), drawn(0.5, 1.0)),
                       (drawn(1.0, 0.0), drawn(1.0, 1.0), drawn(1.0, 0.6))):
        full_change, half_change = np.abs(b - a).sum(), np.abs(half - a).sum()
        assert 0.15 * full_change < half_change < 0.95 * full_change, (half_change, full_change)
