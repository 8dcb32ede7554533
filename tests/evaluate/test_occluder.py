"""The occluded render: a box over part of the person, drawn again for the same identity, and the
person mask it leaves visible."""

import numpy as np
import pytest

from w2w.errors import InputError
from w2w.evaluate.occluder import PLACES, occlude, occlude_each, occluded_first_renders
from w2w.storage import STREAM_IMAGES
from w2w.world.dataset import identity_table, render_identity
from w2w.world.identity import sample_identity
from w2w.world.mask import identity_masks


def first_renders(ids: list[int], seed: int) -> tuple[list, np.ndarray, np.ndarray]:
    people = [sample_identity(i, seed) for i in ids]
    renders = np.stack([render_identity(p, 1, seed, STREAM_IMAGES, 32)[0] for p in people])
    masks = np.stack([identity_masks(p, 1, seed, STREAM_IMAGES, 32)[0] for p in people])
    return people, renders, masks


def test_the_box_hides_part_of_the_person_and_only_the_box_changes():
    _, renders, masks = first_renders(list(range(12)), 0)
    for k, (image, person) in enumerate(zip(renders, masks, strict=True)):
        out, visible, place = occlude(image, person, np.random.default_rng(k))
        assert place in PLACES
        changed = (out != image).any(-1)
        hidden = (person > 0.5) & (visible == 0)
        assert hidden.sum() >= 0.1 * (person > 0.5).sum()           # a real part of the person is hidden
        assert (visible <= person).all() and (visible[~changed] == person[~changed]).all()
        rows, cols = np.nonzero(out.astype(int).sum(-1) != image.astype(int).sum(-1))
        box = out[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        assert (box == box[0, 0]).all()                              # one flat colour
        assert box[0, 0].min() >= 60 and box[0, 0].max() < 200       # muted


def test_each_identity_draws_its_own_occluder_again_from_its_seed():
    _, renders, masks = first_renders([3, 4, 5, 6, 7, 8], 0)
    a = occlude_each(renders, masks, [3, 4, 5, 6, 7, 8], 23)
    b = occlude_each(renders[::-1], masks[::-1], [8, 7, 6, 5, 4, 3], 23)  # another order, the same draws
    assert np.array_equal(a[0], b[0][::-1]) and a[2] == b[2][::-1]
    c = occlude_each(renders, masks, [3, 4, 5, 6, 7, 8], 24)
    assert not np.array_equal(a[0], c[0])


def test_the_first_renders_are_occluded_on_their_own_masks_and_a_foreign_world_is_refused():
    people, renders, masks = first_renders([10, 11, 12], 5)
    table = identity_table(people, np.zeros(3, bool))
    images, visible, places = occluded_first_renders(table, renders, 5, 0)
    assert np.array_equal(images, occlude_each(renders, masks, [10, 11, 12], 0)[0])
    assert (visible <= masks).all() and len(places) == 3
    with pytest.raises(InputError, match="synthesize.seed 6"):  # rendered with 5: other masks
        occluded_first_renders(table, renders, 6, 0)


def test_an_empty_person_mask_is_refused():
    with pytest.raises(ValueError, match="empty"):
        occlude(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8)), np.random.default_rng(0))
