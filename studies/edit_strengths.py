"""One edit strength for every attribute, or one per attribute?

    python studies/edit_strengths.py   # needs the default run's outputs; about 6 minutes

Train identities only. `evaluate_edits` chooses one strength for all 13 attributes on its 24
selection train identities: the smallest of the sweep whose mean flip rate reaches 0.9, else the
most flipping (12 in the committed run). Attributes flip at very different strengths
(`edit_flips.py`): glasses or a big nose at a few train stds, a beard or another sex barely at 16.
Here the same rule picks a strength per attribute on the same 24 identities, and both choices are
read on 24 other train identities (validation), paired: flip rate, identity kept and other
attributes kept, as the stage scores them, with the world's own edit of the validation people as
the yardsticks' ceiling.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from w2w.evaluate.context import Context
from w2w.evaluate.edit_ceiling import world_edit_ceiling
from w2w.evaluate.edits import Scores, attribute_strengths, choose_strength, sweep, w2w_displacements
from w2w.evaluate.stats import bootstrap_ci, paired_difference_ci
from w2w.params import load_params
from w2w.space.basis import Basis
from w2w.space.directions import Directions

DATA = Path("data")


# the edits' yardsticks: name -> Scores field
KEYS = {"flip": "flip", "identity kept": "identity_similarity", "other attributes kept": "others_kept",
        "trait change": "trait_change"}


def means(sc: Scores, key: str) -> np.ndarray:
    """(M,) each identity's mean of a Scores field over the attributes."""
    return getattr(sc, key).astype(float).mean(1)


def train_blocks(ctx: Context, p, block: int) -> tuple[np.ndarray, np.ndarray]:
    """The edits stage's selection train identities (the seeded train order's first
    p.selection_identities) and the block-th as many after them (block 1: the next ones). Each edit
    study reads its own block, so that none reads identities another has chosen on."""
    n = p.selection_identities
    order = ctx.rows(False, (block + 1) * n, p.seed)
    return order[:n], order[block * n:(block + 1) * n]


def open_stage_edits() -> tuple:
    """The default run's params, evaluation context, the attributes the edits stage edits and their
    w2w displacements (A, D) per unit strength, from the stage's directions."""
    params = load_params()
    ctx = Context.open(DATA / "world", DATA / "weights.zarr", DATA / "base", DATA / "judge")
    basis, directions = Basis.load(DATA / "basis"), Directions.load(DATA / "directions")
    attributes = [a for a in directions.attributes if a in ctx.judge.attribute_names]
    return params, ctx, attributes, w2w_displacements(basis, directions, attributes)


def main() -> None:
    params, ctx, attributes, d = open_stage_edits()
    p, prompt = params.evaluate_edits, params.finetune.prompt
    selection, validation = train_blocks(ctx, p, 1)
    _, chosen_on = sweep(ctx, selection, attributes, {"w2w": d}, p, prompt)
    by = chosen_on["w2w"]
    common = choose_strength(by, p.flip_target)
    per = attribute_strengths(by, p.flip_target)
    print(f"one strength: {common:g}; per attribute: "
          + ", ".join(f"{a} {s:g}" for a, s in zip(attributes, per, strict=True)), flush=True)
    # per-attribute strengths as one sweep at strength 1 of displacements scaled per attribute
    _, read = sweep(ctx, validation, attributes, {"one": d * common, "per attribute": d * per[:, None]},
                    p, prompt, {"one": [1.0], "per attribute": [1.0]})
    ceiling = world_edit_ceiling(ctx, validation, attributes, p.samples_per_model, p.seed)
    one, each, prompting = read["one"][1.0], read["per attribute"][1.0], read["prompt"][0.0]
    print(f"\n{len(validation)} validation train identities\n\n"
          "| edit | flip | identity kept | other attributes kept | trait change |\n"
          "| --- | --- | --- | --- | --- |")
    print(f"| the world's own edit (ceiling) | {ceiling['flip_rate_mean']:.3f} | "
          f"{ceiling['identity_similarity_mean']:.3f} | {ceiling['other_attributes_kept_mean']:.3f} | "
          f"{ceiling['trait_change_mean']:.3f} |")
    for name, sc in ((f"one strength ({common:g})", one), ("a strength per attribute", each),
                     ("prompting", prompting)):
        cells = [v.astype(float).mean(1) for v in (sc.flip, sc.identity_similarity, sc.others_kept,
                                                   sc.trait_change)]
        print(f"| {name} | " + " | ".join(f"{v.mean():.3f} {np.round(bootstrap_ci(v), 3).tolist()}"
                                          for v in cells) + " |")
    pairs = [(name, getattr(each, key).astype(float).mean(1), getattr(one, key).astype(float).mean(1))
             for name, key in (("flip", "flip"), ("identity kept", "identity_similarity"),
                               ("other attributes kept", "others_kept"))]
    print("\nper attribute against one strength, paired: " + "; ".join(
        f"{name} {(x - y).mean():+.3f} {np.round(paired_difference_ci(x, y, p.seed), 3).tolist()}"
        for name, x, y in pairs))
    print("flip per attribute (one / per attribute): " + ", ".join(
        f"{a} {one.flip[:, j].mean():.2f}/{each.flip[:, j].mean():.2f}" for j, a in enumerate(attributes)))


if __name__ == "__main__":
    main()
