"""Attribute directions from counterfactual pairs, against the classifier's: which keeps the others?

    python studies/paired_directions.py [--pairs 24]   # about 17 minutes

Train identities only (issue 17, claim 2). Edits keep 0.873 of the other attributes held-out (goal
0.9); the world's own edit keeps 0.965. The stage's direction is a classifier's normal on the train
coefficients with listed correlates projected out (`directions.debias`): whatever else goes with
an attribute in the population can still ride along. The world can draw each person with one
attribute changed and nothing else (`w2w.world.edit`), which is what `w2w direction` asks of two
folders of the same people: here, for each attribute, `--pairs` train identities are rendered once
as they are and once with the attribute flipped (the same nuisance draw), both images are inverted
into the stage's basis as the evaluation inverts (the stage's settings; a pair's two inversions take
the same noise draws, so their difference is the images'), and the mean of (with - without) is the
paired direction, scaled as the classifier's (one train std along it). Edits the world never draws
(a beard or baldness on a woman) give no pair.

Each method gets its strength per attribute by the stage's rule on the stage's 24 selection
identities, and both are read on 24 train identities no edit study has read (`train_blocks` block
5), paired: flip rate, identity kept, other attributes kept and trait change, as the stage scores
them. The fitting identities come after all the blocks in the seeded train order. Not a candidate
for the stage within the 60-minute budget (each pair costs two inversions, 14 x pairs in all): it
measures whether what rides along the classifier's direction is what costs the other attributes.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from edit_strengths import KEYS, means, open_stage_edits, train_blocks  # studies/: first on sys.path

from w2w.evaluate.context import Context
from w2w.evaluate.edits import attribute_strengths, sweep
from w2w.evaluate.inversion import w2w_coefficients
from w2w.evaluate.stats import bootstrap_ci, paired_difference_ci
from w2w.space.basis import Basis
from w2w.space.directions import Directions
from w2w.space.image_direction import direction_between
from w2w.storage import STREAM_IMAGES
from w2w.world.dataset import identities_from_table, render_identities
from w2w.world.edit import drawn_edits, world_edit

BLOCK = 5      # the edit studies' next unread block of train identities (edit_ties.py read block 4)
AFTER = BLOCK + 1  # fitting identities start after the selection identities and blocks 1..BLOCK


def pair_coefficients(ctx: Context, basis: Basis, rows: np.ndarray, attributes: list[str], params
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each row's first render and its world edits by every attribute, inverted: coefficients of
    the originals (M, k) and of the edits (M, A, k), which edits the world draws (M, A), and whether
    each person has the attribute (M, A)."""
    people = identities_from_table(ctx.table.iloc[rows])
    seed, size = params.synthesize.seed, ctx.image_size
    p, fp = params.evaluate_inversion, params.finetune

    def invert(persons) -> np.ndarray:  # image j draws its noise from p.seed + j: paired across calls
        images = render_identities(persons, 1, seed, STREAM_IMAGES, size)[:, 0]
        return w2w_coefficients(ctx, basis, images, p, fp)

    original = invert(people)
    edited = np.stack([invert([world_edit(person, a) for person in people]) for a in attributes], 1)
    has = np.array([[person.attributes[a] for a in attributes] for person in people])
    return original, edited, drawn_edits(people, attributes), has


def paired_displacements(basis: Basis, original: np.ndarray, edited: np.ndarray, drawn: np.ndarray,
                         has: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(A, D) weight displacements of strength 1 along each attribute's paired direction (towards
    the attribute, one train std along it: `w2w direction`'s construction on each attribute's pairs),
    and (A, k) the unit directions."""
    units, out = [], []
    for j in range(edited.shape[1]):
        pairs = drawn[:, j]
        if not pairs.any():
            raise SystemExit(f"error: no fitting identity gives a pair for attribute {j}; give more --pairs")
        had = has[pairs, j, None]                                         # (m, 1): the original has it
        found = direction_between(np.where(had, edited[pairs, j], original[pairs]),   # without it
                                  np.where(had, original[pairs], edited[pairs, j]),   # with it
                                  basis.train_coefficients)
        units.append(found.unit)
        out.append(basis.direction_to_weights(found.unit * found.scale))
    return np.stack(out), np.stack(units)


def stage_unit(directions: Directions, attribute: str, k: int) -> np.ndarray:
    """(k,) the stage's unit direction for `attribute`, zero beyond the components it was fitted on."""
    row = directions.directions[directions.attributes.index(attribute)]
    return np.concatenate([row, np.zeros(k - len(row))])


def report(read: dict, names: list[str], seed: int) -> None:
    print("\n| directions | flip | identity kept | other attributes kept | trait change |\n"
          "| --- | --- | --- | --- | --- |")
    for name in names:
        cells = [means(read[name][1.0], key) for key in KEYS.values()]
        print(f"| {name} | " + " | ".join(f"{v.mean():.3f} {np.round(bootstrap_ci(v), 3).tolist()}"
                                          for v in cells) + " |")
    a, b = (read[n][1.0] for n in names)
    print(f"\n{names[1]} - {names[0]}, paired: " + "; ".join(
        f"{label} {(means(b, key) - means(a, key)).mean():+.3f} "
        f"{np.round(paired_difference_ci(means(b, key), means(a, key), seed), 3).tolist()}"
        for label, key in KEYS.items()))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=24, help="fitting identities per attribute")
    args = parser.parse_args(argv)
    params, ctx, attributes, classifier = open_stage_edits()
    p, prompt = params.evaluate_edits, params.finetune.prompt
    basis, directions = Basis.load("data/basis"), Directions.load("data/directions")
    selection, reading = train_blocks(ctx, p, BLOCK)
    start = AFTER * p.selection_identities
    fitting = ctx.rows(False, start + args.pairs, p.seed)[start:]
    assert not set(fitting) & (set(selection) | set(reading))
    original, edited, drawn, has = pair_coefficients(ctx, basis, fitting, attributes, params)
    paired, units = paired_displacements(basis, original, edited, drawn, has)
    cosines = [u @ stage_unit(directions, a, basis.k) for u, a in zip(units, attributes, strict=True)]
    print("pairs per attribute: " + ", ".join(f"{a} {int(n)}" for a, n in zip(attributes, drawn.sum(0),
                                                                              strict=True)))
    print("cosine with the stage's direction: " + ", ".join(
        f"{a} {c:+.2f}" for a, c in zip(attributes, cosines, strict=True)), flush=True)
    methods = {"classifier (the stage's)": classifier, "counterfactual pairs": paired}
    _, chosen_on = sweep(ctx, selection, attributes, methods, p, prompt)
    strengths = {name: attribute_strengths(chosen_on[name], p.flip_target) for name in methods}
    for name, s in strengths.items():
        print(f"{name} strengths: " + ", ".join(f"{a} {v:g}" for a, v in zip(attributes, s, strict=True)))
    _, read = sweep(ctx, reading, attributes, {n: d * strengths[n][:, None] for n, d in methods.items()},
                    p, prompt, {n: [1.0] for n in methods})
    report(read, list(methods), p.seed)
    for name in methods:
        sc = read[name][1.0]
        print(f"{name} by attribute, flip / others kept: " + ", ".join(
            f"{a} {sc.flip[:, j].mean():.2f}/{sc.others_kept[:, j].mean():.2f}"
            for j, a in enumerate(attributes)))


if __name__ == "__main__":
    main(sys.argv[1:])
