"""Claim 2's ceiling: how much of the person does the world's own edit keep, by the edits' yardsticks?

    python studies/edit_ceiling.py [identities]   # default 24 train identities; about a minute;
                                                  # needs the judge (dvc repro judge)

Train identities only, and no model: the edits goal asks an edited model's samples to keep >= 0.75
of the unedited samples' identity (the judge's cosine of their mean embeddings) and >= 0.9 of the
other attributes, with the target flipped >= 0.9 of the time. What do those figures read for a
perfect edit? The world can draw one: the same person (traits, the other attributes, and each
image's pose, light, scene and clothes, which come from the identity's id and the stream) with one
attribute changed (`w2w.world.edit`), each edit going to the opposite of the person's true state, as
the edits stage goes to the opposite of the judged one. Scored by `world_edit_ceiling`, which the
edits stage reports on its own held-out identities, as `w2w.evaluate.edits.score` scores an edited
model against its unedited one, here on 4 renders of each; beside it, 4 other renders of the same
unedited person (nothing edited: only the nuisance differs). Edits the world never draws (a woman
with a beard or baldness) are left out.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from w2w.evaluate.context import Context
from w2w.evaluate.edit_ceiling import world_edit_ceiling
from w2w.evaluate.judged import attribute_probabilities, mean_embeddings, standard_traits
from w2w.evaluate.stats import bootstrap_ci, sample_rows
from w2w.params import load_params
from w2w.storage import STREAM_EVAL
from w2w.world.dataset import identities_from_table, render_identities
from w2w.world.identity import ATTRIBUTES

DATA = Path("data")
RENDERS = 4  # per edit, as evaluate_edits samples each model


def summary(values: np.ndarray) -> str:
    lo, hi = bootstrap_ci(values)
    return f"{values.mean():.3f} [{lo:.3f}, {hi:.3f}]"


def main(argv: list[str]) -> None:
    n_identities = int(argv[0]) if argv else 24
    params = load_params()
    ctx = Context.open_unstacked(DATA / "world", DATA / "base", DATA / "judge")
    rows = np.sort(sample_rows(ctx.heldout, False, n_identities, params.evaluate_edits.seed))
    ceiling = world_edit_ceiling(ctx, rows, list(ATTRIBUTES), RENDERS, params.evaluate_edits.seed)
    # nothing edited: 4 other renders of the same people, against the 4 the edits start from
    renders = render_identities(identities_from_table(ctx.table.iloc[rows]), 2 * RENDERS,
                                params.evaluate_edits.seed, STREAM_EVAL, ctx.image_size)
    first, again = renders[:, :RENDERS], renders[:, RENDERS:]
    columns = ctx.judge_columns(list(ATTRIBUTES))
    nothing = (mean_embeddings(ctx.judge, again) * mean_embeddings(ctx.judge, first)).sum(1)
    nothing_change = np.abs(standard_traits(ctx.judge, again) - standard_traits(ctx.judge, first)).mean(1)
    nothing_kept = ((attribute_probabilities(ctx.judge, again) > 0.5)
                    == (attribute_probabilities(ctx.judge, first) > 0.5))[:, columns].mean(1)
    print(f"{len(rows)} train identities, {RENDERS} renders each; {ceiling['never_drawn']} of "
          f"{ceiling['edits'] + ceiling['never_drawn']} edits never drawn by the world (a woman with a "
          "beard or baldness)\n")
    print("| edit | flip | identity kept | other attributes kept | trait change |\n"
          "| --- | --- | --- | --- | --- |")
    print(f"| none: {RENDERS} other renders of the same person | - | {summary(nothing)} | "
          f"{summary(nothing_kept)} | {summary(nothing_change)} |")
    print("| the world's own edit, every drawable one | "
          + " | ".join(f"{ceiling[f'{k}_mean']:.3f} {np.round(ceiling[f'{k}_mean_ci'], 3).tolist()}"
                       for k in ("flip_rate", "identity_similarity", "other_attributes_kept", "trait_change"))
          + " |")
    kept = sorted(ceiling["identity_similarity"].items(), key=lambda kv: -kv[1])
    print("\nidentity kept per attribute: " + ", ".join(f"{a} {v:.3f}" for a, v in kept))


if __name__ == "__main__":
    main(sys.argv[1:])
