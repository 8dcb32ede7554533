"""An occluder over part of a photo: an inversion's input that does not show the whole person.

One render of the miniature world shows the judge most of its person, so a single-image model has
little to overfit to. A hand, a scarf or a hat hides part of one photo without touching the world
the fleet and the space were made from (an evaluation input, not one of the world's renders): a
flat box of a muted colour over the lower face (mouth, nose, beard), one side of the face, or the
top of the head (hair, brows, eyes), one of the three drawn per identity, placed on the render's
own person mask so that it follows the pose. What stays visible (the person mask less the box) is
what a loss weighted to the person trains on.
A folder of photos has no person masks: its own photos are whatever they are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from w2w.errors import InputError
from w2w.storage import STREAM_IMAGES
from w2w.world.dataset import identities_from_table, render_identity
from w2w.world.mask import identity_masks

PLACES = ("lower face", "one side", "top of the head")


def occlude(image: np.ndarray, person: np.ndarray, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray, str]:
    """A copy of `image` (S, S, 3) with a flat muted box over part of the person, the person mask
    (S, S) without the hidden part, and where the box went. The box is placed on the mask's bounding
    box (rows top..bottom, columns left..right), so it follows the render's pose."""
    rows, cols = np.nonzero(person > 0.5)
    if not len(rows):
        raise ValueError("occlude: the person mask is empty")
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    height, width = bottom - top, right - left
    place = PLACES[int(rng.integers(len(PLACES)))]
    if place == "lower face":     # mouth, nose tip and beard: a hand or a scarf
        box = (top + int(0.55 * height), top + int(0.85 * height), left, right)
    elif place == "one side":     # a raised hand over one eye, cheek and ear
        half = width // 2
        box = (top + int(0.2 * height), top + int(0.8 * height),
               *((left, left + half) if rng.random() < 0.5 else (right - half, right)))
    else:                         # a hat pulled down over hair, brows and eyes
        box = (max(0, top - 1), top + int(0.45 * height), max(0, left - 1), right + 1)
    colour = rng.integers(60, 200, size=3).astype(np.uint8)  # muted, as the world's clothes
    out, mask = image.copy(), person.copy()
    out[box[0]:box[1], box[2]:box[3]] = colour
    mask[box[0]:box[1], box[2]:box[3]] = 0.0
    return out, mask, place


def occlude_each(images: np.ndarray, masks: np.ndarray, ids: list[int], seed: int
                 ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """`occlude` for each image (M, S, S, 3) and its person mask (M, S, S): the occluded images, their
    visible person masks and each occluder's place; one occluder draw per identity, seeded by its id."""
    out = [occlude(image, mask, np.random.default_rng([seed, i]))
           for image, mask, i in zip(images, masks, ids, strict=True)]
    return np.stack([o[0] for o in out]), np.stack([o[1] for o in out]), [o[2] for o in out]


def occluded_first_renders(table: pd.DataFrame, first: np.ndarray, render_seed: int, seed: int
                           ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The table's identities' first stored renders `first` (M, S, S, 3), each with its occluder
    (`occlude_each`): the images, the visible person masks (M, S, S) and the places. `render_seed`
    is the seed the world was rendered with (`synthesize.seed`): the masks are drawn again from the
    renders' own nuisance draws, so the renders must be this renderer's."""
    people, size = identities_from_table(table), first.shape[1]
    if not np.array_equal(render_identity(people[0], 1, render_seed, STREAM_IMAGES, size)[0], first[0]):
        raise InputError(f"the world's renders are not this renderer's at synthesize.seed {render_seed}, so "
                         f"their person masks cannot be drawn again; run `dvc repro synthesize`")
    masks = np.stack([identity_masks(person, 1, render_seed, STREAM_IMAGES, size)[0] for person in people])
    return occlude_each(first, masks, [person.identity_id for person in people], seed)

