"""Does a training variant make a space that spans identities it was not fitted on? (issue 17)

    python studies/space_fit.py [--identities N] [--fit M] [--components K] [VARIANT ...]
    # default: 32 validation identities, a space of 224 others, 112 components, all variants

The ladder's projection rungs, on TRAIN identities only: each variant retrains M train identities'
adapters as `studies/fleet_fit.py` does (params.yaml's finetune section with the variant's
overrides), fits a standardised PCA of K components to them as the pca stage does, and projects
onto it N other train identities' adapters (the validation split: fleet_fit's seeded sample, the
same identities, references and sampling noise), retrained with the same recipe. Both the models
and their projections are sampled and scored as the ladder scores them, by the judge's similarity
and the trait error, paired against the first variant, with 95 % bootstrap CIs over the
validation identities. The projection's relative residual (standardised) is reported too.
A smaller space than the pipeline's (480 adapters, 256 components), so its figures compare
variants, not the committed run. Needs `dvc repro judge`.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from fleet_fit import VARIANTS, ci, open_study, retrain  # studies/: the script's folder is first on sys.path
from variants import parse_variants

from w2w.evaluate.ladder import model_rung, projected
from w2w.evaluate.stats import sample_rows
from w2w.params import load_params
from w2w.space.pca import fit_in_memory

SPACE_DEFAULTS = ["person_t400_draws2", "person_t400_draws2_lr0.005", "person_t400_draws2_eps3e-4"]


def fit_rows(heldout: np.ndarray, validation: np.ndarray, m: int) -> np.ndarray:
    """m train rows, a seeded sample that leaves out the validation rows."""
    rows = sample_rows(heldout, False, len(heldout), seed=31)
    return np.sort(rows[~np.isin(rows, validation)][:m])


def main(argv: list[str]) -> None:
    args = parse_variants(argv, __doc__, VARIANTS, identities=32, default=SPACE_DEFAULTS, fit=224,
                          components=112)
    ctx, latents, rows, references, truth = open_study(args.identities)
    fitted = fit_rows(ctx.heldout, rows, args.fit)
    params = load_params()
    p, pca = params.evaluate_inversion, params.pca
    ids = ctx.table["identity_id"].to_numpy()
    first = None
    for name in args.variants:
        space, _ = retrain(ctx, latents, fitted, VARIANTS[name])                   # (M, D)
        basis = fit_in_memory(space.astype(np.float64), ids[fitted], args.components, "exact", pca)
        adapters, trained = retrain(ctx, latents, rows, VARIANTS[name])            # (N, D)
        inside, residual = projected(basis, adapters)
        with torch.no_grad():
            rungs = (model_rung(trained, name, adapters, references, truth, p),
                     model_rung(trained, f"{name} projected", inside, references, truth, p))
        kept = rungs[1].similarity.mean() / rungs[0].similarity.mean()
        print(f"{name}: {len(rows)} validation identities, a space of {len(fitted)} ({basis.k} components); "
              f"residual {residual.mean():.3f} {ci(residual)}; projection keeps {kept:.2f} of the similarity",
              flush=True)
        for label, rung, base in zip(("model", "projected"), rungs, first or (None, None), strict=True):
            line = (f"  {label:9s} similarity {rung.similarity.mean():.3f} {ci(rung.similarity)}   "
                    f"trait error {rung.trait_error.mean():.3f} {ci(rung.trait_error)}")
            if base is not None:
                d_sim, d_err = rung.similarity - base.similarity, rung.trait_error - base.trait_error
                line += (f"   vs {args.variants[0]}: {d_sim.mean():+.3f} {ci(d_sim)}, "
                         f"trait {d_err.mean():+.3f} {ci(d_err)}")
            print(line, flush=True)
        first = first or rungs


if __name__ == "__main__":
    main(sys.argv[1:])
