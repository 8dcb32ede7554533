"""An edit that moves a person between attribute groups: flips like a perfect edit, keeps what?

    python studies/attribute_edits.py [--strengths 1,1.5,2,3] [--people 12]   # needs the default run's
                                                                             # outputs; about 6 minutes

Train identities only (the edits stage's 24 selection identities). The space's linear direction
(the attribute's classifier normal) reaches its best flip rate at 12 train stds, where the person
goes (identity kept 0.22) and other attributes change with it (0.78 kept): the direction carries
the attributes the classifier sees correlated with its own. `attribute_sampler.py` found that the
mean adapter of people who share an attribute combination carries that combination's states. So an
edit can move a person from the people like them to the people like them but for the one
attribute: d = mean(adapters of the `people` train identities nearest the target combination) -
mean(adapters of the `people` nearest the person's own), with the person's other attributes kept
(a hair colour asked for replaces the person's own, as `w2w.world.edit` draws it), and w + s d
edited at strength s. The groups are drawn from the train identities other than the 24 edited.
A miniature-profile edit, beside the reference's directions and never in their place; it is still
w + s d, but d depends on the person's own attributes.

Every edit goes to the opposite of the judged unedited state and is scored exactly as
`evaluate_edits` scores it (`w2w.evaluate.edits.sweep`, `score`), beside the w2w direction at the
stage's strengths (12, and 2.14 matched to prompting), prompting, and the world's own edit of the
same people (the yardsticks' ceiling, `w2w.evaluate.edit_ceiling`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from w2w.evaluate.context import Context
from w2w.evaluate.edit_ceiling import world_edit_ceiling
from w2w.evaluate.edits import score, sweep, w2w_displacements
from w2w.evaluate.stats import bootstrap_ci, paired_difference_ci
from w2w.params import load_params
from w2w.space.basis import Basis
from w2w.space.directions import Directions
from w2w.world.dataset import identities_from_table
from w2w.world.edit import world_edit
from w2w.world.identity import ATTRIBUTES

DATA = Path("data")
STAGE_STRENGTHS = (2.14, 4.0, 8.0, 12.0)  # the committed run's 2.14 (matched to prompting) and 12, and two
                                          # between them to trace w2w's flip-against-identity curve


def nearest_mean(adapters: np.ndarray, labels: np.ndarray, combination: np.ndarray, people: int,
                 rng: np.random.Generator) -> np.ndarray:
    """(D,) mean adapter of the `people` rows whose labels (G, A) differ least from `combination` (A,)."""
    differ = (labels != combination).sum(1)
    order = np.lexsort((rng.random(len(labels)), differ))[:people]
    return adapters[order].mean(0)


def group_displacements(ctx: Context, rows: np.ndarray, attributes: list[str], targets: np.ndarray,
                        people: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(M, A, D): for each row and attribute, the mean of the people nearest the row's attributes
    with the attribute at its target, minus the mean of those nearest its own; and (M, A) where that
    is an edit (False where the judge misread the person, who has the target already)."""
    rng = np.random.default_rng(seed)
    gallery = np.setdiff1d(np.flatnonzero(~ctx.heldout), rows)
    adapters = ctx.adapters(gallery).astype(np.float64)                        # (G, D)
    labels = ctx.table.iloc[gallery][list(ATTRIBUTES)].to_numpy(bool)          # (G, A13)
    out = np.zeros((len(rows), len(attributes), adapters.shape[1]))
    valid = np.zeros((len(rows), len(attributes)), bool)
    for i, person in enumerate(identities_from_table(ctx.table.iloc[rows])):
        own = np.array([person.attributes[a] for a in ATTRIBUTES])
        here = nearest_mean(adapters, labels, own, people, rng)
        for j, a in enumerate(attributes):
            if person.attributes[a] == targets[i, j]:  # the judge misread it: the person has it already
                continue
            valid[i, j] = True
            moved = world_edit(person, a).attributes
            there = nearest_mean(adapters, labels, np.array([moved[b] for b in ATTRIBUTES]), people, rng)
            out[i, j] = there - here
    return out.astype(np.float32), valid


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--strengths", default="1,1.5,2,3")
    parser.add_argument("--people", type=int, default=12)
    args = parser.parse_args(argv)
    params = load_params()
    p, prompt = params.evaluate_edits, params.finetune.prompt
    ctx = Context.open(DATA / "world", DATA / "weights.zarr", DATA / "base", DATA / "judge")
    basis, directions = Basis.load(DATA / "basis"), Directions.load(DATA / "directions")
    attributes = [a for a in directions.attributes if a in ctx.judge.attribute_names]
    rows = ctx.rows(False, p.selection_identities, p.seed)
    base, results = sweep(ctx, rows, attributes, {"w2w": w2w_displacements(basis, directions, attributes)},
                          p, prompt, {"w2w": list(STAGE_STRENGTHS)})
    columns = ctx.judge_columns(attributes)
    targets = ~base.judged[:, columns]                                                    # (M, A)
    moves, valid = group_displacements(ctx, rows, attributes, targets, args.people, p.seed)  # (M, A, D)

    def per_identity(values: np.ndarray) -> np.ndarray:  # (M,) over the edits, misread cells left out
        return np.array([v[ok].mean() for v, ok in zip(values.astype(float), valid, strict=True)])

    m, a = targets.shape
    for s in (float(x) for x in args.strengths.split(",")):
        edited = (base.adapters[:, None] + s * moves).reshape(m * a, -1)
        images = sweep_render(ctx, edited, p, prompt, f"groups x{s:g}").reshape(m, a, *base.images.shape[1:])
        results.setdefault("groups", {})[s] = score(ctx, base, columns, images, targets)
    ceiling = world_edit_ceiling(ctx, rows, attributes, p.samples_per_model, p.seed)
    print(f"{m} train identities x {a} attributes; groups of {args.people}; {int((~valid).sum())} edits "
          "left out where the judge misread the person (the target is the person's own state)\n")
    print("| edit | strength | flip | identity kept | other attributes kept | trait change |\n"
          "| --- | --- | --- | --- | --- | --- |")
    print(f"| the world's own edit (ceiling) | - | {ceiling['flip_rate_mean']:.3f} | "
          f"{ceiling['identity_similarity_mean']:.3f} | {ceiling['other_attributes_kept_mean']:.3f} | "
          f"{ceiling['trait_change_mean']:.3f} |")
    for method, by_strength in results.items():
        for s, sc in sorted(by_strength.items()):
            cells = [per_identity(v)
                     for v in (sc.flip, sc.identity_similarity, sc.others_kept, sc.trait_change)]
            line = " | ".join(f"{v.mean():.3f} {np.round(bootstrap_ci(v), 3).tolist()}" for v in cells)
            print(f"| {method} | {s:g} | {line} |", flush=True)
    w2w_flips = {t: per_identity(sc.flip).mean() for t, sc in results["w2w"].items()}
    for s, sc in sorted(results["groups"].items()):  # against the w2w strength flipping most alike
        t = min(w2w_flips, key=lambda t: abs(w2w_flips[t] - per_identity(sc.flip).mean()))
        diffs = []
        for name in ("flip", "identity_similarity", "others_kept"):
            x, y = per_identity(getattr(sc, name)), per_identity(getattr(results["w2w"][t], name))
            lo, hi = paired_difference_ci(x, y, p.seed)
            diffs.append(f"{name} {x.mean() - y.mean():+.3f} [{lo:+.3f}, {hi:+.3f}]")
        print(f"groups x{s:g} against w2w x{t:g}, paired: " + "; ".join(diffs))


def sweep_render(ctx: Context, adapters: np.ndarray, p, prompt: str, desc: str) -> np.ndarray:
    """Edited models (K, D) rendered as `sweep` renders weight edits (its seeds, steps, guidance)."""
    from w2w.adapters.render import render_models

    return render_models(ctx.pipe, adapters, ctx.layout, ctx.scaling, prompt, p.samples_per_model, p.seed,
                         p.sampler_steps, p.guidance_scale, None, desc=desc)


if __name__ == "__main__":
    main()
