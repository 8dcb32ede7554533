"""Claim 2's ceiling: the world's own edits of the edits stage's identities, scored as that stage
scores a model's edits (`w2w.evaluate.edits.score`).

In the miniature world each identity can be drawn with one attribute at the opposite of its true
state and nothing else changed (`w2w.world.edit`): the perfect edit. Its figures say what the
yardsticks read when the edit is exactly right: the judge counts attributes as part of who a person
is, so a perfect edit keeps far less than all of the identity (`python studies/edit_ceiling.py`).
Edits the world never draws (a beard or baldness on a woman) are left out; photos have no ceiling.
"""

from __future__ import annotations

import numpy as np

from w2w.evaluate.context import Context
from w2w.evaluate.edits import Unedited, drawable_summary, score
from w2w.evaluate.judged import attribute_probabilities, mean_embeddings, standard_traits, truth_of
from w2w.storage import STREAM_EVAL
from w2w.world.dataset import identities_from_table, render_identities
from w2w.world.edit import drawn_edits, world_edit


def world_edit_ceiling(ctx: Context, rows: np.ndarray, attributes: list[str], renders: int, seed: int
                       ) -> dict:
    """Flip rate, identity similarity, other attributes kept and trait change of the world's own
    edits of `rows` (each identity's mean over the edits the world draws), on `renders` renders of
    each person, edited and not, with one nuisance sequence; {} where the world is photos."""
    if truth_of(ctx.table) is None:
        return {}
    people = identities_from_table(ctx.table.iloc[rows])
    own = render_identities(people, renders, seed, STREAM_EVAL, ctx.image_size)          # (M, n, S, S, 3)
    edited = np.stack([render_identities([world_edit(p, a) for p in people], renders, seed, STREAM_EVAL,
                                         ctx.image_size, desc=f"world edit: {a}")
                       for a in attributes], 1)                                          # (M, A, n, ...)
    base = Unedited(np.empty((len(rows), 0), np.float32), own, attribute_probabilities(ctx.judge, own),
                    mean_embeddings(ctx.judge, own), standard_traits(ctx.judge, own))
    targets = np.array([[not p.attributes[a] for a in attributes] for p in people])       # (M, A)
    s = score(ctx, base, ctx.judge_columns(attributes), edited, targets)
    drawn = drawn_edits(people, attributes)                                             # (M, A)
    kept = {a: float(s.identity_similarity[drawn[:, j], j].mean()) for j, a in enumerate(attributes)}
    return {**drawable_summary(s, drawn), "identity_similarity": kept}
