"""Can the population say what one image adds beyond the person? Calibrating w2w's inversion.

    python studies/inversion_calibration.py [--identities N] [--fit M]   # about 8 minutes

Train identities only (issue 17, claim 3). From one render w2w finds coefficients that hold the
person and that render's particulars (pose, light, scene), which a space of image-particular
adapters can express (the identity share). The population knows the difference: for a train
identity, w2w's inversion of its first render can be set beside its fleet model, trained on all
its renders. M train identities (not the validation ones) are inverted from their first render
into `inversion_fit.py`'s validation basis, and their fleet adapters projected onto it; then each
validation identity's inversion is read
- as it is (`w2w`, the stage's);
- less the fitting identities' mean difference, inversion minus fleet model (`bias`);
- scaled per component by the least-squares slope from inversion to fleet model over the fitting
  identities (`per_component`);
- mapped by a ridge regression from inversion to fleet model (`ridge_A`, penalty A);
each scored as the stage scores it, paired against plain w2w and against the single-image LoRA,
which no population informs. A question, not a choice: what a held-out inversion could gain from
the train identities' models beyond the basis they span.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from fleet_fit import ci, difference  # studies/: the script's folder is first on sys.path
from inversion_fit import one_image_inputs, validation_space

from w2w.evaluate.context import Context
from w2w.evaluate.inversion import score_models, single_image_lora, w2w_coefficients
from w2w.evaluate.judged import truth_of
from w2w.params import load_params
from w2w.world.references import identity_references

DATA = Path("data")
FIT_SEED = 31  # the train identities the calibration is fitted on
PENALTIES = [1e2, 1e3, 1e4]


def ridge(x: np.ndarray, y: np.ndarray, penalty: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(k, k) W, x's mean and y's mean: y - y_mean ~ (x - x_mean) @ W, ridge on centred data."""
    xm, ym = x.mean(0), y.mean(0)
    xc, yc = x - xm, y - ym
    w = np.linalg.solve(xc.T @ xc + penalty * np.eye(x.shape[1]), xc.T @ yc)
    return w, xm, ym


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--identities", type=int, default=32, help="validation train identities")
    parser.add_argument("--fit", type=int, default=256, help="train identities the calibration is fitted on")
    args = parser.parse_args(argv)
    params = load_params()
    p, fp = params.evaluate_inversion, params.finetune
    ctx = Context.open(DATA / "world", DATA / "weights.zarr", DATA / "base", DATA / "judge")
    rows, basis = validation_space(ctx, params, args.identities)
    others = np.setdiff1d(np.flatnonzero(~ctx.heldout), rows)
    fit_rows = np.sort(np.random.default_rng(FIT_SEED).choice(others, args.fit, replace=False))
    found = w2w_coefficients(ctx, basis, one_image_inputs(ctx, fit_rows, params.synthesize.seed)["render"],
                             p, fp)                                                      # (M, k)
    fleet = basis.to_coefficients(ctx.adapters(fit_rows))                              # (M, k)
    residual = found - fleet
    print(f"{len(fit_rows)} fitting identities: |inversion| {np.linalg.norm(found, axis=1).mean():.1f}, "
          f"|fleet model| {np.linalg.norm(fleet, axis=1).mean():.1f}, |inversion - fleet model| "
          f"{np.linalg.norm(residual, axis=1).mean():.1f}, |mean difference| "
          f"{np.linalg.norm(residual.mean(0)):.1f}", flush=True)
    slope = (found * fleet).sum(0) / np.maximum((found ** 2).sum(0), 1e-12)           # (k,)
    table = ctx.table.iloc[rows]
    renders = identity_references(ctx.world, table, p.renders_per_identity, p.seed)
    truth, traits = table[ctx.judge.attribute_names].to_numpy(dtype=bool), truth_of(table)
    images = one_image_inputs(ctx, rows, params.synthesize.seed)["render"]
    c = w2w_coefficients(ctx, basis, images, p, fp)
    read = {"w2w": c, "bias": c - residual.mean(0), "per_component": c * slope}
    for a in PENALTIES:
        w, xm, ym = ridge(found, fleet, a)
        read[f"ridge_{a:g}"] = ym + (c - xm) @ w
    models = {name: basis.to_weights(x) for name, x in read.items()}
    models["lora"] = single_image_lora(ctx, images, table["identity_id"].tolist(), p, fp)
    scores = {name: score_models(ctx, m, renders, truth, traits, p, name) for name, m in models.items()}
    own = basis.to_coefficients(ctx.adapters(rows))  # the validation identities' fleet models, projected
    print(f"\nfrom the render ({len(rows)} validation identities); distance to the identity's own fleet "
          "model's projection in brackets")
    w, lo = scores["w2w"], scores["lora"]
    for name, s in scores.items():
        near = f" (|x - fleet| {np.linalg.norm(read[name] - own, axis=1).mean():.1f})" if name in read else ""
        line = (f"{name:14s}{near} similarity {s.similarity.mean():.3f} {ci(s.similarity)}  trait error "
                f"{s.trait_error.mean():.3f} {ci(s.trait_error)}")
        for other, ref in (("w2w", w), ("LoRA", lo)):
            if s is not ref and name != "lora":
                line += (f"  vs {other}: {difference(s.similarity, ref.similarity)}, trait "
                         f"{difference(s.trait_error, ref.trait_error)}")
        print(line, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
