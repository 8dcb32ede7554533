"""Claim 2's ceiling: how much of the person does the world's own edit keep, by the edits' yardsticks?

    python studies/edit_ceiling.py [identities]   # default 24 train identities; about a minute;
                                                  # needs the judge (dvc repro judge)

Train identities only, and no model: the edits goal asks an edited model's samples to keep >= 0.75
of the unedited samples' identity (the judge's cosine of their mean embeddings) and >= 0.9 of the
other attributes, with the target flipped >= 0.9 of the time. What do those figures read for a
perfect edit? The world can draw one: the same person (traits, the other attributes, and each
image's pose, light, scene and clothes, which come from the identity's id and the stream) with one
attribute changed. For each identity and each of the 13 attributes the edit goes to the opposite of
the person's true state, as the edits stage goes to the opposite of the judged one: a hair colour
asked for replaces the one the person has (and baldness), a hair colour taken away becomes brown
(black for brown hair), and baldness taken away gives brown hair. Scored exactly as
`w2w.evaluate.edits.score` scores an edited model against its unedited one, on 4 renders of each
(as the stage samples 4 seeds); beside it, 4 other renders of the same unedited person (the
yardstick's ceiling with nothing edited: only the nuisance differs). Edits the world never draws
(a beard or baldness on a woman) are marked and counted apart.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from w2w.evaluate.judged import attribute_probabilities, mean_embeddings, standard_traits
from w2w.evaluate.stats import bootstrap_ci, sample_rows
from w2w.judge.api import Judge
from w2w.params import load_params
from w2w.storage import STREAM_EVAL
from w2w.world.dataset import identities_from_table, render_identities
from w2w.world.edit import never_drawn, world_edit
from w2w.world.identity import ATTRIBUTES

DATA = Path("data")
RENDERS = 4  # per edit, as evaluate_edits samples each model


def summary(values: np.ndarray) -> str:
    lo, hi = bootstrap_ci(values)
    return f"{values.mean():.3f} [{lo:.3f}, {hi:.3f}]"


def main(argv: list[str]) -> None:
    n_identities = int(argv[0]) if argv else 24
    params = load_params()
    judge = Judge.load(DATA / "judge")
    table = pd.read_parquet(DATA / "world" / "identities.parquet")
    heldout = (table["split"] == "heldout").to_numpy()
    rows = np.sort(sample_rows(heldout, False, n_identities, params.evaluate_edits.seed))
    people = identities_from_table(table.iloc[rows])
    seed, size = params.synthesize.seed, params.synthesize.image_size
    columns = [judge.attribute_names.index(a) for a in ATTRIBUTES]
    # (M, 2n): the first n are the unedited renders, the next n the same person's other renders
    own = render_identities(people, 2 * RENDERS, seed, STREAM_EVAL, size, desc="unedited")
    edited = np.stack([render_identities([world_edit(p, a) for p in people], RENDERS, seed, STREAM_EVAL,
                                         size, desc=f"edited: {a}") for a in ATTRIBUTES], 1)  # (M, A, n, ...)
    m, k = edited.shape[:2]
    base_probs = attribute_probabilities(judge, own[:, :RENDERS])                          # (M, J)
    base_embedding = mean_embeddings(judge, own[:, :RENDERS])                              # (M, E)
    base_traits = standard_traits(judge, own[:, :RENDERS])                                 # (M, T)
    flat = edited.reshape(m * k, *edited.shape[2:])
    probs = attribute_probabilities(judge, flat).reshape(m, k, -1)
    judged, base_judged = probs > 0.5, base_probs > 0.5
    targets = np.array([[not p.attributes[a] for a in ATTRIBUTES] for p in people])          # (M, A)
    flip = np.stack([judged[:, i, c] == targets[:, i] for i, c in enumerate(columns)], 1)
    similarity = np.einsum("mae,me->ma", mean_embeddings(judge, flat).reshape(m, k, -1), base_embedding)
    same = judged == base_judged[:, None, :]
    kept = np.stack([np.delete(same[:, i], c, axis=1).mean(1) for i, c in enumerate(columns)], 1)
    change = np.abs(standard_traits(judge, flat).reshape(m, k, -1) - base_traits[:, None]).mean(2)
    drawn = ~np.array([[never_drawn(p, a) for a in ATTRIBUTES] for p in people])              # (M, A)
    again = own[:, RENDERS:]
    nothing = (mean_embeddings(judge, again) * base_embedding).sum(1)
    nothing_change = np.abs(standard_traits(judge, again) - base_traits).mean(1)
    nothing_kept = ((attribute_probabilities(judge, again) > 0.5) == base_judged)[:, columns].mean(1)
    print(f"{m} train identities, {RENDERS} renders each; {int((~drawn).sum())} of {m * k} edits never "
          "drawn by the world (a beard or baldness on a woman)\n")
    print("| edit | flip | identity kept | other attributes kept | trait change |\n"
          "| --- | --- | --- | --- | --- |")
    print(f"| none: {RENDERS} other renders of the same person | - | {summary(nothing)} | "
          f"{summary(nothing_kept)} | {summary(nothing_change)} |")

    def per_identity(values: np.ndarray) -> np.ndarray:
        return np.array([v[d].mean() for v, d in zip(values, drawn, strict=True)])

    print(f"| the world's own edit, every drawable one | {summary(per_identity(flip.astype(float)))} | "
          f"{summary(per_identity(similarity))} | {summary(per_identity(kept))} | "
          f"{summary(per_identity(change))} |")
    for i, a in enumerate(ATTRIBUTES):
        d = drawn[:, i]
        print(f"| {a} ({int(d.sum())}) | {flip[d, i].mean():.3f} | {similarity[d, i].mean():.3f} | "
              f"{kept[d, i].mean():.3f} | {change[d, i].mean():.3f} |")
    print(f"\nedits keeping >= 0.75 of the identity: {(similarity[drawn] >= 0.75).mean():.3f}; identities "
          f"whose drawable edits keep >= 0.75 on average: {(per_identity(similarity) >= 0.75).mean():.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
