"""The world's own edits, read by a really trained judge (the small space's): a perfect edit flips its
attribute and keeps the others, and the judge still sees less of the person than in renders with
nothing edited. That is the edits' ceiling the stage reports."""

import numpy as np

from w2w.evaluate.context import Context
from w2w.evaluate.edit_ceiling import world_edit_ceiling
from w2w.evaluate.judged import mean_embeddings
from w2w.storage import STREAM_EVAL
from w2w.world.dataset import identities_from_table, render_identities

ATTRIBUTES = ["Eyeglasses", "Male", "Blond_Hair", "No_Beard"]


def test_the_worlds_own_edits_flip_keep_the_rest_and_keep_less_identity_than_no_edit(small_space):
    ctx = Context.open_unstacked(small_space / "world", small_space / "base", small_space / "judge")
    rows = np.flatnonzero(ctx.heldout)[:6]
    ceiling = world_edit_ceiling(ctx, rows, ATTRIBUTES, 4, seed=0)
    assert ceiling["flip_rate_mean"] >= 0.8 and ceiling["other_attributes_kept_mean"] >= 0.85
    assert ceiling["edits"] + ceiling["never_drawn"] == len(rows) * len(ATTRIBUTES)
    assert set(ceiling["identity_similarity"]) == set(ATTRIBUTES)
    people = identities_from_table(ctx.table.iloc[rows])
    renders = render_identities(people, 8, 0, STREAM_EVAL, ctx.image_size)   # the same 4 scenes, and 4 more
    first, other = mean_embeddings(ctx.judge, renders[:, :4]), mean_embeddings(ctx.judge, renders[:, 4:])
    unedited = (first * other).sum(1)
    assert ceiling["identity_similarity_mean"] < unedited.mean() - 0.1
    assert ceiling["trait_change_mean"] > 0


def test_photos_have_no_ceiling(small_space):
    ctx = Context.open_unstacked(small_space / "world", small_space / "base", small_space / "judge")
    ctx.table = ctx.table[[c for c in ctx.table.columns if not c.startswith("trait_")]]
    assert world_edit_ceiling(ctx, np.array([0]), ATTRIBUTES, 2, seed=0) == {}
