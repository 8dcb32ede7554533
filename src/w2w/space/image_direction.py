"""A direction from two folders of images: where the space moves from one kind of picture to another.

Every image is inverted into the space (`w2w.space.invert`, only the PCA coefficients optimised),
and the direction is the mean of the `to` images' coefficients minus the mean of the `from` images'.
Given the same people in both folders (photos and paintings of them, say), the people cancel and
what is left is the way they are drawn: on validation train identities such a painting direction,
fitted on 64 others, edits w2w's model of a painting back towards renders (realistic 0.32 -> 0.72
at one push, studies/painting_direction.py). It is a mean difference, not a classifier: a few
dozen images per folder give it, where a classifier needs labelled hundreds.

Its strength unit is the attribute directions' (one train std of the coefficients along it, as in
`w2w.space.directions`), so it sits beside them in one directions folder; `offset` says how many
such units separate the two folders.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from w2w.errors import InputError
from w2w.space.directions import Directions
from w2w.space.invert import check_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def image_files(folder: Path, option: str) -> list[Path]:
    """The images directly in `folder` (sorted by name), each checked readable; InputError naming
    the option and the folder for a missing, empty or unusable one."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{option} {folder}: not a folder (give a folder of images)")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"{option} {folder}: holds no image ({', '.join(IMAGE_SUFFIXES)})")
    for path in files:
        check_image(path)
    return files


@dataclass
class ImageDirection:
    unit: np.ndarray    # (k,) unit vector in coefficient space, from the `from` images to the `to` ones
    scale: float        # train std of the coefficients along it: the strength unit
    source: np.ndarray  # (n_from,) where each `from` image's model sits along it, in strengths
    target: np.ndarray  # (n_to,) the same for the `to` images; 0 is the train mean

    @property
    def offset(self) -> float:
        """Strengths from the `from` images' mean to the `to` images' mean."""
        return float(self.target.mean() - self.source.mean())


def direction_between(source: np.ndarray, target: np.ndarray, train_coefficients: np.ndarray
                      ) -> ImageDirection:
    """The direction from coefficients `source` (n_from, k) to `target` (n_to, k), in the units of a
    basis whose train identities have `train_coefficients` (n_train, k)."""
    shift = target.mean(0) - source.mean(0)
    length = float(np.linalg.norm(shift))
    if length == 0.0:
        raise InputError("the two folders' images give the same models: no direction between them")
    unit = shift / length
    scale = float((train_coefficients @ unit).std())  # as fit_scored_directions scales attributes
    centre = train_coefficients.mean(0) @ unit
    return ImageDirection(unit, scale, (source @ unit - centre) / scale, (target @ unit - centre) / scale)


def with_direction(directions: Directions | None, name: str, found: ImageDirection) -> Directions:
    """`directions` (None: none) and the new one named `name`, in one Directions. Attribute
    directions fitted on fewer components than the basis are padded with zeros: `edit` adds nothing
    beyond their components either, so every edit stays the same."""
    if directions is None:
        return Directions([name], found.unit[None], np.array([found.scale]))
    if name in directions.attributes:
        raise InputError(f"{name!r} is already a direction in that folder; choose another name")
    k = len(found.unit)
    rows = np.zeros((len(directions.attributes), k))
    rows[:, :directions.directions.shape[1]] = directions.directions
    return Directions([*directions.attributes, name], np.vstack([rows, found.unit[None]]),
                      np.append(directions.scales, found.scale))


def positions_summary(found: ImageDirection) -> str:
    """One line: where the two folders' models sit along the direction."""
    parts = [f"{label} {x.mean():+.2f} (sd {x.std():.2f})" for label, x in (("from", found.source),
                                                                          ("to", found.target))]
    return f"along it, in train stds from the train mean: {', '.join(parts)}; apart {found.offset:.2f}"
