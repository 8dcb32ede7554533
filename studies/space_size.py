"""How many identities does the space need? (issue 17)

    python studies/space_size.py [--identities N] [--fit M] [--fresh F] [--sizes M1,M2,...:K1,K2,...]
                                 [VARIANT ...]
    # default: 32 validation identities, 448 train identities retrained, no fresh people, spaces of
    # 112, 224 and 448 of them with half as many components, and of all 448 with every component

The space's learning curve, on TRAIN identities only. Each variant retrains M train identities'
adapters as `studies/fleet_fit.py` does (params.yaml's finetune section with the variant's
overrides), and N others the same way (the validation split: fleet_fit's seeded sample, references
and sampling noise). Standardised PCAs are fitted, as the pca stage fits them, to nested seeded
subsets of the M adapters, and the validation adapters are projected onto each and scored as the ladder scores
them, by the judge's similarity and the trait error with 95 % bootstrap CIs over the validation
identities; the later variants are paired against the first at each size. M is at most the
world's train identities less the validation ones (448 of the 480 train identities of the
600-identity world the README's figures were measured on; 628 of 660 now). Beyond them, `--fresh F` adds F
people the renderer draws afresh (ids from 5,000,000 up: in no world, train or held-out), rendered
and trained as the world's train identities are; they come after the M world identities, so a
space larger than M holds all of those and the first of the fresh people. Unlike the world's train
identities, the base never saw them, as it never saw the held-out ones. Needs `dvc repro judge`.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
from fleet_fit import VARIANTS, ci, open_study, retrain  # studies/: the script's folder is first on sys.path
from space_fit import fit_rows
from variants import parse_variants

from w2w.evaluate.context import Context
from w2w.evaluate.ladder import model_rung, projected
from w2w.evaluate.share import encode_renders, train_adapters
from w2w.params import load_params
from w2w.space.pca import fit_in_memory
from w2w.storage import STREAM_IMAGES
from w2w.world.dataset import render_identity
from w2w.world.identity import sample_identity
from w2w.world.mask import identity_masks

DEFAULT_SIZES = "112,224,448,448:56,112,224,447"  # spaces of M identities : their components
FRESH_FIRST_ID = 5_000_000  # above every world's ids and the other studies' fresh people


def parse(argv: list[str]) -> argparse.Namespace:
    """The study's arguments, with --sizes read into args.spaces [(identities, components), ...]."""
    args = parse_variants(argv, __doc__, VARIANTS, identities=32, default=["person_t400_draws2"], fit=448,
                          fresh=0, sizes=DEFAULT_SIZES)
    try:
        sizes, comps = ([int(x) for x in part.split(",")] for part in args.sizes.split(":"))
    except ValueError:
        sys.exit(f"--sizes: expected M1,M2,...:K1,K2,..., got {args.sizes!r}")
    pool = args.fit + args.fresh
    bad = [(m, k) for m, k in zip(sizes, comps, strict=False) if not 0 < k < m <= pool]
    if len(sizes) != len(comps) or bad:
        sys.exit(f"--sizes: each space needs 0 < components < identities <= --fit + --fresh ({pool}), "
                 f"got {args.sizes!r}")
    args.spaces = list(zip(sizes, comps, strict=True))
    return args


def fresh_adapters(ctx: Context, n: int, overrides: dict) -> np.ndarray:
    """(n, D) adapters of n people drawn afresh, 8 renders each as the world renders its train
    identities (the synthesize seed and stream), trained with params.yaml's finetune plus overrides."""
    params = load_params()
    synth, p = params.synthesize, params.finetune.model_copy(update=overrides)
    people = [sample_identity(FRESH_FIRST_ID + i, synth.seed) for i in range(n)]
    drawn = (synth.images_per_identity, synth.seed, STREAM_IMAGES, synth.image_size)
    images = np.stack([render_identity(i, *drawn) for i in people])               # (n, 8, S, S, 3)
    masks = (torch.from_numpy(np.stack([identity_masks(i, *drawn) for i in people]))
             if p.background_weight < 1 else None)
    ids = [i.identity_id for i in people]
    return train_adapters(ctx.pipe, encode_renders(ctx.pipe, images), ids, p, masks=masks)[0]


def main(argv: list[str]) -> None:
    args = parse(argv)
    ctx, latents, rows, references, truth = open_study(args.identities)
    fitted = fit_rows(ctx.heldout, rows, args.fit)
    if len(fitted) < args.fit:
        sys.exit(f"--fit {args.fit}: only {len(fitted)} train identities outside the validation split")
    # nested subsets, the first m of this order: the world's identities shuffled, then the fresh people
    order = np.concatenate([np.random.default_rng(5).permutation(len(fitted)),
                            np.arange(len(fitted), len(fitted) + args.fresh)])
    params = load_params()
    p, pca = params.evaluate_inversion, params.pca
    ids = np.concatenate([ctx.table["identity_id"].to_numpy()[fitted],
                          FRESH_FIRST_ID + np.arange(args.fresh)])
    first: dict = {}
    for name in args.variants:
        space, _ = retrain(ctx, latents, fitted, VARIANTS[name])                   # (M, D)
        if args.fresh:
            space = np.concatenate([space, fresh_adapters(ctx, args.fresh, VARIANTS[name])])  # (M + F, D)
        adapters, trained = retrain(ctx, latents, rows, VARIANTS[name])            # (N, D)
        with torch.no_grad():
            model = model_rung(trained, name, adapters, references, truth, p)
        print(f"{name}: {len(rows)} validation identities; the model: similarity "
              f"{model.similarity.mean():.3f} {ci(model.similarity)}, trait error "
              f"{model.trait_error.mean():.3f} {ci(model.trait_error)}", flush=True)
        for m, k in args.spaces:
            subset = np.sort(order[:m])
            basis = fit_in_memory(space[subset].astype(np.float64), ids[subset], k, "exact", pca)
            inside, residual = projected(basis, adapters)
            with torch.no_grad():
                rung = model_rung(trained, f"{name} {m}:{k}", inside, references, truth, p)
            print(f"  a space of {m:4d}, {k:4d} components: residual {residual.mean():.3f} {ci(residual)}; "
                  f"projected similarity {rung.similarity.mean():.3f} {ci(rung.similarity)} "
                  f"(keeps {rung.similarity.mean() / model.similarity.mean():.2f}), "
                  f"trait error {rung.trait_error.mean():.3f} {ci(rung.trait_error)}", flush=True)
            if (m, k) in first:
                d_sim = rung.similarity - first[m, k].similarity
                d_err = rung.trait_error - first[m, k].trait_error
                print(f"    vs {args.variants[0]}: similarity {d_sim.mean():+.3f} {ci(d_sim)}, "
                      f"trait error {d_err.mean():+.3f} {ci(d_err)}", flush=True)
            first.setdefault((m, k), rung)


if __name__ == "__main__":
    main(sys.argv[1:])
