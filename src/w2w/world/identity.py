"""Identities of the miniature world: CelebA-named binary attributes plus continuous traits.

Attributes are sampled with the correlations of real faces (beards only on men, baldness mostly
on older men, grey hair mostly on older people, one hair colour at a time). Continuous traits make
two identities with equal attributes still look different. Each trait is drawn on its own, or, as
in real faces, from a few factors the traits share (`correlate_traits`), so that what one part of
a face shows says something of another.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.special import ndtr  # the standard normal's CDF

ATTRIBUTES: tuple[str, ...] = (
    "Male",
    "Young",
    "No_Beard",
    "Eyeglasses",
    "Bald",
    "Black_Hair",
    "Blond_Hair",
    "Brown_Hair",
    "Gray_Hair",
    "Pale_Skin",
    "Chubby",
    "Narrow_Eyes",
    "Big_Nose",
)
HAIR_COLOURS: tuple[str, ...] = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")

# Each trait is a uniform number in [-1, 1]; the renderer maps it to geometry or colour.
TRAITS: tuple[str, ...] = (
    "face_width",
    "face_height",
    "jaw_square",
    "skin_tone",
    "eye_spacing",
    "eye_height",
    "iris_hue",
    "hair_shade",
    "hair_length",
    "fringe",
    "hair_part",
    "brow_thickness",
    "brow_tilt",
    "mouth_width",
    "nose_length",
    "ear_size",
)


# Attributes whose cue can be drawn at a strength between absent and full (`sample_grades`); sex,
# baldness and the hair colours stay categorical.
GRADED: tuple[str, ...] = ("Young", "No_Beard", "Eyeglasses", "Pale_Skin", "Chubby", "Narrow_Eyes",
                           "Big_Nose")


@dataclass(frozen=True)
class Identity:
    """One person of the world: an id, binary attributes and continuous traits; `grades`, when set,
    the strength in [0, 1] at which each GRADED attribute's cue is drawn (None: 1 if it has the
    attribute, else 0)."""

    identity_id: int
    attributes: dict[str, bool]
    traits: dict[str, float]
    grades: dict[str, float] | None = None


def sample_attributes(rng: np.random.Generator) -> dict[str, bool]:
    """Draw one identity's attributes with real-face correlations."""
    male = rng.random() < 0.45
    young = rng.random() < 0.65
    beard = male and rng.random() < 0.4
    bald_p = (0.45 if not young else 0.06) if male else 0.0
    bald = rng.random() < bald_p
    hair = {name: False for name in HAIR_COLOURS}
    if not bald:
        gray_p = 0.03 if young else 0.5
        if rng.random() < gray_p:
            hair["Gray_Hair"] = True
        else:
            hair[rng.choice(["Black_Hair", "Blond_Hair", "Brown_Hair"], p=[0.4, 0.25, 0.35])] = True
    return {
        "Male": male,
        "Young": young,
        "No_Beard": not beard,
        "Eyeglasses": rng.random() < (0.2 if young else 0.4),
        "Bald": bald,
        **hair,
        "Pale_Skin": rng.random() < 0.2,
        "Chubby": rng.random() < (0.15 if young else 0.3),
        "Narrow_Eyes": rng.random() < 0.2,
        "Big_Nose": rng.random() < (0.35 if male else 0.15),
    }


def sample_identity(identity_id: int, seed: int) -> Identity:
    """The identity is a pure function of (seed, id), so any subset can be re-drawn alone."""
    rng = np.random.default_rng([seed, identity_id, 0])
    attributes = sample_attributes(rng)
    traits = {name: float(rng.uniform(-1.0, 1.0)) for name in TRAITS}
    return Identity(identity_id, attributes, traits)


def correlate_traits(identity: Identity, seed: int, factors: int, communality: float) -> Identity:
    """The identity with its traits drawn again from `factors` factors shared by the world's people:
    z = L f + sqrt(1 - communality) e, each trait taking `communality` of its variance from the
    factors f through the world's loadings L (T, factors), then 2 Phi(z) - 1, uniform in [-1, 1] as
    an independent trait is. The loadings come from the world's seed, the factors and the rest e from
    the person's own stream; the attributes stay as drawn. 0 factors: the identity as it is."""
    if factors == 0:
        return identity
    if not 0.0 <= communality < 1.0:
        raise ValueError(f"communality {communality}: must be in [0, 1)")
    directions = np.random.default_rng([seed, 9_000_017]).normal(size=(len(TRAITS), factors))
    loadings = directions / np.linalg.norm(directions, axis=1, keepdims=True) * np.sqrt(communality)
    rng = np.random.default_rng([seed, identity.identity_id, 9])
    z = loadings @ rng.normal(size=factors) + np.sqrt(1 - communality) * rng.normal(size=len(TRAITS))
    return dataclasses.replace(identity, traits=dict(zip(TRAITS, (2 * ndtr(z) - 1).tolist(), strict=True)))


def sample_grades(identity: Identity, seed: int, coarse: bool = False, margin: float = 0.0) -> Identity:
    """The identity with its GRADED cues drawn at a continuous strength: uniform in [0.5 + margin, 1]
    where it has the attribute, in [0, 0.5 - margin) where not, so that the binary label is the
    strength's threshold, as a photo's label is of a beard's density (a beardless woman stays at 1,
    no beard); `margin` keeps the strengths that far from it. `coarse`: sex too, and the hair's colour
    a mix of its own and another (that one's weight below 0.5 - margin); baldness stays as drawn.
    From a stream of its own: the attributes and traits are the identity's as drawn, and the GRADED
    cues the same with or without `coarse`."""
    if not 0.0 <= margin < 0.5:
        raise ValueError(f"margin {margin}: must be in [0, 0.5)")
    rng = np.random.default_rng([seed, identity.identity_id, 5])
    width = 1.0 - 2.0 * margin  # [0, 0.5) shrunk to [0, 0.5 - margin); 1.0 exactly at no margin

    def strength(has: bool, x: float) -> float:
        return float(0.5 + margin + x * width if has else x * width)

    u = rng.uniform(0.0, 0.5, size=len(GRADED))
    a = identity.attributes
    grades = {name: strength(a[name], x) for name, x in zip(GRADED, u, strict=True)}
    if not a["Male"]:
        grades["No_Beard"] = 1.0
    if coarse:
        sex, share, pick = rng.uniform(0.0, 0.5), rng.uniform(0.0, 0.5), rng.integers(0, 3)
        grades["Male"] = strength(a["Male"], sex)
        own = next((c for c in HAIR_COLOURS if a[c]), None)
        grades.update({c: 0.0 for c in HAIR_COLOURS})
        if own is not None:  # a bald identity keeps no hair to colour
            other = float(share * width)
            grades[own], grades[[c for c in HAIR_COLOURS if c != own][pick]] = 1.0 - other, other
    return dataclasses.replace(identity, grades=grades)


@dataclass(frozen=True)
class Grading:
    """How a world draws its people: their cues (`sample_grades`): "none" fully or not at all,
    "fine" the GRADED cues at graded strengths, "all" sex and hair colour too, `margin` keeping every
    strength that far from its label's threshold; and their traits (`correlate_traits`): from
    `trait_factors` shared factors with `trait_communality` of each trait's variance, or (0) each
    on its own."""

    cues: Literal["none", "fine", "all"] = "none"
    margin: float = 0.0
    trait_factors: int = 0
    trait_communality: float = 0.0

    def draw(self, identity_id: int, seed: int) -> Identity:
        """The world's person `identity_id` (`sample_identity`), its traits and cues drawn again from
        the same seed as the world draws them."""
        person = correlate_traits(sample_identity(identity_id, seed), seed, self.trait_factors,
                                  self.trait_communality)
        return person if self.cues == "none" else sample_grades(person, seed, self.cues == "all", self.margin)

    def as_attrs(self) -> dict:
        return {"cues": self.cues, "margin": self.margin,
                **({"trait_factors": self.trait_factors, "trait_communality": self.trait_communality}
                   if self.trait_factors else {})}

    @classmethod
    def of_world(cls, attrs) -> Grading:
        """A world's grading from its images.zarr attributes (a world drawn without one: none)."""
        return cls(**attrs["grading"]) if "grading" in attrs else UNGRADED


UNGRADED = Grading()  # every cue drawn fully or not at all: the world as first drawn


def split_identities(n: int, heldout_fraction: float, seed: int) -> np.ndarray:
    """Boolean mask (n,), True for held-out identities, fixed by the seed."""
    rng = np.random.default_rng([seed, 1_000_003])
    n_heldout = max(1, round(n * heldout_fraction))
    mask = np.zeros(n, dtype=bool)
    mask[rng.permutation(n)[:n_heldout]] = True
    return mask
