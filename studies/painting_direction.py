"""A painting direction in the space: can w2w's model of a painting be edited back to a render?

    python studies/painting_direction.py [--identities N] [--fit 32,64,256]   # about 18 minutes

Train identities only (issue 17, claim 3). From the painting, w2w's samples are called renders by
the style head about a third of the time on validation identities (goal 0.9): the coefficients
it finds hold the painting's palette and outlines, which a space of image-particular adapters can
express. The space is linear and the paper edits attributes along linear directions; a painting
is a way of drawing a person, so it may have a direction too, found without any held-out image:
M train identities (not the validation ones) are inverted from their first render and from their
painting into the validation basis (`inversion_fit.py`'s: every train adapter but the N validation
identities'), and the mean difference of the two coefficient vectors is the painting shift (M
from `--fit`; the smaller sets are the first M of the largest). Each validation identity's
painting inversion is then read
- as it is (`w2w`, the stage's);
- edited back along the shift, w - s * shift, at strengths s of 1, 1.5 and 2 (`shift_M_xS`);
- with its coordinate along the shift set to the fitting renders' mean (`project_M`);
and, as controls at the largest M: the single-image LoRA from the same painting, and that LoRA
with the same weight displacement subtracted (`lora_shift_xS`: is it the edit or the space?); the
render inversions projected and shifted too (the direction should not be the person). Each is
scored as the stage scores it, paired against plain w2w and against the single-image LoRA.

Fixed before the strengths 1.5 and the other fitting sizes were read (1 and 2 at M = 64 had been):
the stage takes the smallest strength whose samples from the painting are called renders at least
0.9 of the time on the validation identities (the goal's), else the most realistic, as the edits'
rule takes the smallest strength reaching its flip target; and the smallest M whose similarity and
realism there come within 0.02 and 0.05 of the largest M's, since every fitting identity costs the
stage two inversions.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from fleet_fit import ci, difference  # studies/: the script's folder is first on sys.path
from inversion_fit import one_image_inputs, validation_space

from w2w.evaluate.context import Context
from w2w.evaluate.inversion import Scored, score_models, single_image_lora, w2w_coefficients
from w2w.evaluate.judged import truth_of
from w2w.params import load_params
from w2w.world.references import identity_references

DATA = Path("data")
FIT_SEED = 29  # the train identities the shift is fitted on
STRENGTHS = [1.0, 1.5, 2.0]


def fitting_inversions(ctx: Context, basis, fit_rows: np.ndarray, params) -> dict[str, np.ndarray]:
    """{render, painting}: (M, k) w2w's coefficients of each fitting identity's two images."""
    p, fp = params.evaluate_inversion, params.finetune
    return {setting: w2w_coefficients(ctx, basis, images, p, fp)
            for setting, images in one_image_inputs(ctx, fit_rows, params.synthesize.seed).items()}


def painting_shift(found: dict[str, np.ndarray], m: int) -> tuple[np.ndarray, np.ndarray]:
    """(k,) the first m identities' mean painting-minus-render coefficients, and their renders' mean."""
    shift = (found["painting"][:m] - found["render"][:m]).mean(0)
    unit = shift / np.linalg.norm(shift)
    along = {s: c[:m] @ unit for s, c in found.items()}
    print(f"{m} fitting identities: the shift's length {np.linalg.norm(shift):.2f} (a render inversion's "
          f"{np.linalg.norm(found['render'][:m], axis=1).mean():.2f}); along it renders "
          f"{along['render'].mean():.2f} sd {along['render'].std():.2f}, paintings "
          f"{along['painting'].mean():.2f} sd {along['painting'].std():.2f}", flush=True)
    return shift, found["render"][:m].mean(0)


def report(scores: dict[str, Scored], setting: str) -> None:
    print(f"\nfrom the {setting}:")
    w, lo = scores["w2w"], scores["lora"]
    for name, s in scores.items():
        line = (f"{name:14s} similarity {s.similarity.mean():.3f} {ci(s.similarity)}  trait error "
                f"{s.trait_error.mean():.3f} {ci(s.trait_error)}  realistic {s.realistic.mean():.3f} "
                f"{ci(s.realistic)}")
        for other, ref in (("w2w", w), ("LoRA", lo)):
            if s is not ref and not (other == "w2w" and name.startswith("lora")):
                line += (f"  vs {other}: {difference(s.similarity, ref.similarity)}, trait "
                         f"{difference(s.trait_error, ref.trait_error)}, realistic "
                         f"{difference(s.realistic, ref.realistic)}")
        print(line, flush=True)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--identities", type=int, default=32, help="validation train identities")
    parser.add_argument("--fit", default="32,64,256", help="train identities the shift is fitted on")
    args = parser.parse_args(argv)
    sizes = sorted(int(m) for m in args.fit.split(","))
    params = load_params()
    p, fp = params.evaluate_inversion, params.finetune
    ctx = Context.open(DATA / "world", DATA / "weights.zarr", DATA / "base", DATA / "judge")
    rows, basis = validation_space(ctx, params, args.identities)
    others = np.setdiff1d(np.flatnonzero(~ctx.heldout), rows)
    fit_rows = np.random.default_rng(FIT_SEED).choice(others, sizes[-1], replace=False)  # prefixes: smaller M
    found = fitting_inversions(ctx, basis, fit_rows, params)
    fits = {m: painting_shift(found, m) for m in sizes}
    table = ctx.table.iloc[rows]
    renders = identity_references(ctx.world, table, p.renders_per_identity, p.seed)
    truth, traits = table[ctx.judge.attribute_names].to_numpy(dtype=bool), truth_of(table)
    ids = table["identity_id"].tolist()
    big = sizes[-1]
    for setting, images in one_image_inputs(ctx, rows, params.synthesize.seed).items():
        c = w2w_coefficients(ctx, basis, images, p, fp)
        lora = single_image_lora(ctx, images, ids, p, fp)
        models = {"w2w": basis.to_weights(c), "lora": lora}
        for m, (shift, render_mean) in fits.items():
            if setting == "render" and m != big:
                continue
            unit = shift / np.linalg.norm(shift)
            models[f"project_{m}"] = basis.to_weights(c - np.outer((c - render_mean) @ unit, unit))
            for s in STRENGTHS if setting == "painting" else [1.5]:
                models[f"shift_{m}_x{s:g}"] = basis.to_weights(c - s * shift)
        moved = basis.to_weights(fits[big][0]) - basis.to_weights(np.zeros_like(fits[big][0]))  # (D,)
        for s in STRENGTHS[:2] if setting == "painting" else []:
            models[f"lora_shift_x{s:g}"] = (lora - s * moved).astype(np.float32)
        report({name: score_models(ctx, w, renders, truth, traits, p, f"{name} {setting}")
                for name, w in models.items()}, setting)


if __name__ == "__main__":
    main(sys.argv[1:])
