"""Claim 3 on eight times the validation identities: w2w against the single-image LoRA, cross-validated.

    python studies/inversion_folds.py [--folds 8]   # about 3 minutes a fold

The held-out run reads w2w - LoRA from a render as +0.012 [-0.023, 0.046] on 32 identities, and
`inversion_fit.py`'s 32 validation train identities as -0.019 [-0.048, 0.011]: both undecided, on
either side of zero. Here the same comparison on 8 x 32 train identities, read as a held-out
identity meets the space: SEED's order of the train identities (`inversion_fit.py`'s, whose first
32 are its validation identities, fold 0) is cut into folds of 32, and each fold's identities are
inverted into a basis fitted, as the pca stage fits it, to every other train adapter (628), from
their first render and from their painting, by w2w and by the single-image LoRA at the stage's
settings, and scored as the stage scores them. Paired 95 % intervals over all the folds'
identities; fold 0 reproduces `inversion_fit.py`'s figures. No held-out identity is read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from fleet_fit import ci, difference  # studies/: the script's folder is first on sys.path
from inversion_fit import SEED, basis_without, one_image_inputs, one_image_models

from w2w.evaluate.context import Context
from w2w.evaluate.inversion import score_models
from w2w.evaluate.judged import truth_of
from w2w.evaluate.stats import sample_rows
from w2w.params import load_params
from w2w.world.references import identity_references

DATA = Path("data")
FOLD = 32
FIGURES = ("similarity", "trait_error", "realistic")


def fold_scores(ctx: Context, params, rows: np.ndarray) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """{(method, input): {figure: (32,)}} for one fold's rows, each inverted into a basis of the
    other train adapters."""
    p, fp = params.evaluate_inversion, params.finetune
    basis = basis_without(ctx, params, rows)
    table = ctx.table.iloc[rows]
    renders = identity_references(ctx.world, table, p.renders_per_identity, p.seed)
    truth, traits = table[ctx.judge.attribute_names].to_numpy(dtype=bool), truth_of(table)
    found = {}
    for setting, images in one_image_inputs(ctx, rows, params.synthesize.seed).items():
        for method in ("w2w", "lora"):
            weights = one_image_models(method, ctx, basis, images, table, p, fp)
            s = score_models(ctx, weights, renders, truth, traits, p, f"{method} {setting}")
            found[method, setting] = {f: getattr(s, f) for f in FIGURES}
    return found


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=8)
    args = parser.parse_args(argv)
    params = load_params()
    ctx = Context.open(DATA / "world", DATA / "weights.zarr", DATA / "base", DATA / "judge")
    order = sample_rows(ctx.heldout, False, FOLD * args.folds, SEED)
    pooled: dict[tuple[str, str], dict[str, list[np.ndarray]]] = {}
    for fold in range(args.folds):
        rows = np.sort(order[fold * FOLD:(fold + 1) * FOLD])
        found = fold_scores(ctx, params, rows)
        print(f"\nfold {fold}: {len(rows)} train identities, a basis of the other "
              f"{int((~ctx.heldout).sum()) - len(rows)} train adapters", flush=True)
        for key, figures in found.items():
            for name, values in figures.items():
                pooled.setdefault(key, {}).setdefault(name, []).append(values)
        for setting in ("render", "painting"):
            w, lo = found["w2w", setting], found["lora", setting]
            print(f"  {setting:8s} w2w {w['similarity'].mean():.3f}, LoRA {lo['similarity'].mean():.3f}, "
                  f"w2w - LoRA {difference(w['similarity'], lo['similarity'])}", flush=True)
    every = {key: {name: np.concatenate(v) for name, v in figures.items()} for key, figures in pooled.items()}
    print(f"\nall {FOLD * args.folds} validation identities (95 % intervals over identities):")
    for (method, setting), figures in every.items():
        print(f"  {method:4s} {setting:8s} " + "  ".join(f"{name} {v.mean():.3f} {ci(v)}"
                                                      for name, v in figures.items()))
    for setting in ("render", "painting"):
        w, lo = every["w2w", setting], every["lora", setting]
        print(f"  w2w - LoRA from the {setting}: " + ", ".join(
            f"{name} {difference(w[name], lo[name])}" for name in FIGURES), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
