"""Identities of the miniature world: CelebA-named binary attributes plus continuous traits.

Attributes are sampled with the correlations of real faces (beards only on men, baldness mostly
on older men, grey hair mostly on older people, one hair colour at a time). Continuous traits make
two identities with equal attributes still look different.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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


@dataclass(frozen=True)
class Identity:
    """One person of the world: an id, binary attributes and continuous traits."""

    identity_id: int
    attributes: dict[str, bool]
    traits: dict[str, float]


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


def split_identities(n: int, heldout_fraction: float, seed: int) -> np.ndarray:
    """Boolean mask (n,), True for held-out identities, fixed by the seed."""
    rng = np.random.default_rng([seed, 1_000_003])
    n_heldout = max(1, round(n * heldout_fraction))
    mask = np.zeros(n, dtype=bool)
    mask[rng.permutation(n)[:n_heldout]] = True
    return mask
