"""Which correlated attributes to project out of each edit direction?

    python studies/edit_debias.py             # needs the default run's outputs; about 35 minutes
    python studies/edit_debias.py flip_kept   # the second question below; about 15 minutes

Train identities only. The reference "debiases" a direction by projecting out the directions of
attributes that correlate with it (its Bald loses Male, Young and Chubby); `directions.debias`
lists three such cases. An edit that moves a correlated attribute along with its own costs the
"other attributes kept" yardstick (0.852 held-out, goal 0.9, the world's own edit 0.965). Each
variant below fits the 13 directions on the train coefficients as the `directions` stage does,
chooses a strength per attribute on `evaluate_edits`' 24 selection train identities by the stage's
own rule, and is read on 24 other train identities (validation), paired with the three lists
`directions.debias` held when this was asked (`THREE`; the flip_kept answer replaced them):
- `before`: those three lists;
- `none`: no attribute projected out;
- `correlated`: each attribute loses every attribute whose train labels correlate with its own at
  |r| >= 0.2 (phi coefficient, train identities);
- `correlated_colours_kept`: the same, but a hair colour keeps the other colours in its direction:
  a person has one colour at most, so their labels correlate because one replaces another, which
  an edit of the colour has to do too;
- `all`: each attribute loses all 12 others.
- `per_attribute`: for each attribute the list of the variant that, on the selection identities at
  its own strength, keeps the most other attributes among those flipping it within 0.05 of the
  best (an attribute's direction depends on its own list alone, so its validation edits are that
  variant's).
Then, for three of them, which other attributes each edit moves (validation; the share of
identities whose judged attribute changed).

`flip_kept`, asked after that answer: per attribute, among the list before, the colours-kept
list and all others, the one keeping the most other attributes on the selection identities among
those whose flip rate there is within 0.05 of the list before's; fitted as one set of lists
and read, against the lists before, on 24 train identities neither question read before (the
seeded train order's 49th to 72nd).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from edit_strengths import train_blocks  # studies/: the script's folder is first on sys.path

from w2w.evaluate.context import Context
from w2w.evaluate.edits import Scores, attribute_strengths, sweep, w2w_displacements
from w2w.evaluate.judged import attribute_probabilities
from w2w.evaluate.stats import bootstrap_ci, paired_difference_ci
from w2w.params import load_params
from w2w.space.attributes import labels_of
from w2w.space.basis import Basis
from w2w.space.directions import Directions, fit_scored_directions

DATA = Path("data")
THRESHOLD = 0.2  # |phi| of two attributes' train labels above which one is projected out of the other
TIE = 0.05        # flip rates this close on the selection identities are a tie (one identity is 0.042)
THREE = {"Bald": ["Male", "Young"], "Gray_Hair": ["Young"], "No_Beard": ["Male"]}  # directions.debias before
COLOURS = {"Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair"}  # one at most per person


def correlated(table: pd.DataFrame, names: list[str], train: np.ndarray, threshold: float
               ) -> dict[str, list[str]]:
    """Each attribute's others whose train labels correlate with its own at |r| >= threshold."""
    r = table.iloc[train][names].astype(float).corr().to_numpy()
    return {a: [b for j, b in enumerate(names) if j != i and abs(r[i, j]) >= threshold]
            for i, a in enumerate(names)}


def open_study() -> tuple:
    """The default run's params, evaluation context and basis, the directions' attribute names, and
    those of them the judge reads."""
    params = load_params()
    ctx = Context.open(DATA / "world", DATA / "weights.zarr", DATA / "base", DATA / "judge")
    names = Directions.load(DATA / "directions").attributes
    attributes = [a for a in names if a in ctx.judge.attribute_names]
    return params, ctx, Basis.load(DATA / "basis"), names, attributes


def debias_lists(ctx: Context, names: list[str]) -> dict[str, dict[str, list[str]]]:
    """The lists compared: variant -> attribute -> attributes projected out of its direction."""
    near = correlated(ctx.table, names, np.flatnonzero(~ctx.heldout), THRESHOLD)
    return {"before": THREE, "none": {}, "correlated": near,
            "correlated_colours_kept": {a: [b for b in v if not {a, b} <= COLOURS] for a, v in near.items()},
            "all": {a: [b for b in names if b != a] for a in names}}


def train_directions(ctx: Context, basis: Basis, names: list[str], debias: dict[str, list[str]],
                     params) -> Directions:
    """The `directions` stage's fit on the train coefficients alone (no held-out row is read)."""
    train = np.flatnonzero(~ctx.heldout)
    x = basis.train_coefficients[:, : params.directions.components or basis.k]
    p = params.directions.model_copy(update={"debias": debias})
    directions, _ = fit_scored_directions(x, labels_of(ctx.table, names, train), x[:1], p)
    return directions


def moved(ctx: Context, base_judged: np.ndarray, sc: Scores, columns: list[int]) -> np.ndarray:
    """(A, A) share of identities whose judged attribute j changed under the edit of attribute i."""
    m, a = sc.flip.shape
    probs = attribute_probabilities(ctx.judge, sc.images.reshape(m * a, *sc.images.shape[2:]))
    judged = (probs > 0.5).reshape(m, a, -1)[:, :, columns]                       # (M, A, A)
    return (judged != base_judged[:, None, columns]).mean(0)


def main() -> None:
    if sys.argv[1:] == ["flip_kept"]:
        return flip_kept()
    params, ctx, basis, names, attributes = open_study()
    p, prompt = params.evaluate_edits, params.finetune.prompt
    columns = ctx.judge_columns(attributes)
    variants = debias_lists(ctx, names)
    print("correlated at |r| >= 0.2: " + "; ".join(f"{a}: {', '.join(v)}"
                                                    for a, v in variants["correlated"].items() if v))
    selection, validation = train_blocks(ctx, p, 1)
    read, chosen_on, strengths = {}, {}, {}
    for name, debias in variants.items():
        d = w2w_displacements(basis, train_directions(ctx, basis, names, debias, params), attributes)
        _, by = sweep(ctx, selection, attributes, {"w2w": d}, p, prompt)
        strengths[name] = attribute_strengths(by["w2w"], p.flip_target)
        chosen_on[name] = column_scores([by["w2w"][s] for s in strengths[name]])  # each at its strength
        base, out = sweep(ctx, validation, attributes, {name: d * strengths[name][:, None]}, p, prompt,
                          {name: [1.0]})
        read[name] = out[name][1.0]
        print(f"{name}: " + ", ".join(f"{a} {s:g}" for a, s in zip(attributes, strengths[name], strict=True)),
              flush=True)
    # a list per attribute, chosen on the selection identities; an attribute's direction depends on
    # its own list alone, so its validation edits are that variant's, column for column
    pick = per_attribute_variant(chosen_on, list(variants))
    read["per_attribute"] = column_scores([read[v] for v in pick])
    chosen = {a: variants[v].get(a, []) for a, v in zip(attributes, pick, strict=True)}
    print("\nper attribute, chosen on the selection identities: " + "; ".join(
        f"{a}: {v} {chosen[a]}" for a, v in zip(attributes, pick, strict=True)))
    report(read, attributes, p.seed, len(validation), len(selection))
    unedited = base.judged  # every variant's sweep read the same unedited models (rows, prompt, seeds)
    for name in ("before", "correlated", "per_attribute"):
        share = moved(ctx, unedited, read[name], columns)
        np.fill_diagonal(share, 0.0)
        print(f"\n{name}: edits that move other attributes (share of identities, >= 0.15):")
        for i, a in enumerate(attributes):
            worst = [f"{attributes[j]} {share[i, j]:.2f}" for j in np.argsort(-share[i])
                     if share[i, j] >= 0.15]
            if worst:
                print(f"  {a}: {', '.join(worst)}")


def column_scores(scores: list[Scores]) -> Scores:
    """Scores whose column j (attribute j) is scores[j]'s column j."""
    def take(field: str) -> np.ndarray | None:
        parts = [getattr(sc, field) for sc in scores]
        return None if parts[0] is None else np.stack([x[:, j] for j, x in enumerate(parts)], 1)

    return Scores(*(take(f) for f in ("flip", "identity_similarity", "others_kept", "target_shift", "images",
                                      "trait_change")))


def per_attribute_variant(chosen_on: dict[str, Scores], order: list[str]) -> list[str]:
    """Per attribute, among the variants that flip it within TIE of the best on the selection
    identities (at their own strengths), the one keeping the most other attributes; the first in
    `order` on a tie."""
    out = []
    for j in range(next(iter(chosen_on.values())).flip.shape[1]):
        flip = {v: chosen_on[v].flip[:, j].mean() for v in order}
        near = [v for v in order if flip[v] >= max(flip.values()) - TIE]
        out.append(max(near, key=lambda v: (chosen_on[v].others_kept[:, j].mean(), -order.index(v))))
    return out


def report(read: dict[str, Scores], attributes: list[str], seed: int, n_val: int, n_sel: int) -> None:
    keys = ("flip", "identity_similarity", "others_kept", "trait_change")

    def means(sc: Scores, k: str) -> np.ndarray:  # (M,) each identity's mean over attributes
        return getattr(sc, k).astype(float).mean(1)

    def cell(x: np.ndarray) -> str:
        return f"{x.mean():.3f} {np.round(bootstrap_ci(x), 3).tolist()}"

    print(f"\n{n_val} validation train identities, a strength per attribute chosen on {n_sel} others\n\n"
          "| debias | flip | identity kept | other attributes kept | trait change |\n"
          "| --- | --- | --- | --- | --- |")
    for name, sc in read.items():
        print(f"| {name} | " + " | ".join(cell(means(sc, k)) for k in keys) + " |")
    for name, sc in read.items():
        print(f"\n{name}, paired against before: " + "; ".join(
            f"{k} {(means(sc, k) - means(read['before'], k)).mean():+.3f} "
            f"{np.round(paired_difference_ci(means(sc, k), means(read['before'], k), seed), 3).tolist()}"
            for k in keys))
        print("  per attribute, flip / others kept: " + ", ".join(
            f"{a} {sc.flip[:, j].mean():.2f}/{sc.others_kept[:, j].mean():.2f}"
            for j, a in enumerate(attributes)))


def flip_kept() -> None:
    params, ctx, basis, names, attributes = open_study()
    p, prompt = params.evaluate_edits, params.finetune.prompt
    compared = debias_lists(ctx, names)
    variants = {k: compared[k] for k in ("before", "correlated_colours_kept", "all")}
    selection, fresh = train_blocks(ctx, p, 2)                   # the validation block 1 is left out
    d, chosen_on, strengths = {}, {}, {}
    for name, debias in variants.items():
        d[name] = w2w_displacements(basis, train_directions(ctx, basis, names, debias, params), attributes)
        _, by = sweep(ctx, selection, attributes, {"w2w": d[name]}, p, prompt)
        strengths[name] = attribute_strengths(by["w2w"], p.flip_target)
        chosen_on[name] = column_scores([by["w2w"][s] for s in strengths[name]])
    pick = [flip_kept_variant(chosen_on, list(variants), j) for j in range(len(attributes))]
    for j, (a, v) in enumerate(zip(attributes, pick, strict=True)):
        mine, ref = chosen_on[v], chosen_on["before"]
        print(f"{a}: {v} (selection flip {mine.flip[:, j].mean():.2f} against {ref.flip[:, j].mean():.2f}, "
              f"others kept {mine.others_kept[:, j].mean():.2f} against {ref.others_kept[:, j].mean():.2f})")
    lists = {a: variants[v].get(a, []) for a, v in zip(attributes, pick, strict=True)}
    print("directions.debias: {" + ", ".join(f"{a}: [{', '.join(r)}]" for a, r in lists.items() if r) + "}")
    # attribute j's direction and strength depend on its own list alone: the picked variant's row j
    chosen = np.stack([d[v][j] * strengths[v][j] for j, v in enumerate(pick)])
    print("strengths: " + ", ".join(f"{a} {strengths[v][j]:g}"
                                    for j, (a, v) in enumerate(zip(attributes, pick, strict=True))))
    _, out = sweep(ctx, fresh, attributes, {"before": d["before"] * strengths["before"][:, None],
                                            "per_attribute": chosen}, p, prompt,
                   {"before": [1.0], "per_attribute": [1.0]})
    read = {k: out[k][1.0] for k in ("before", "per_attribute")}
    report(read, attributes, p.seed, len(fresh), len(selection))


def flip_kept_variant(chosen_on: dict[str, Scores], order: list[str], j: int) -> str:
    """Attribute j's variant: among those flipping it within TIE of the list before's rate on
    the selection identities, the one keeping the most other attributes there."""
    flip = {v: chosen_on[v].flip[:, j].mean() for v in order}
    kept = [v for v in order if flip[v] >= flip["before"] - TIE]
    return max(kept, key=lambda v: (chosen_on[v].others_kept[:, j].mean(), -order.index(v)))

if __name__ == "__main__":
    main()
