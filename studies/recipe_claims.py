"""Do the fleet recipe's share levers carry to the space's claims? (issue 17, claims 1 and 3)

    python studies/recipe_claims.py [--identities N] [--measure claims|projection|directions] [VARIANT ...]
    # default: 32 validation identities, every variant; about 7 minutes for "defaults", 25 for a
    # variant at the fleet's 70 steps (rank4 too), 32 at 100 (retrained adapters are kept and reused)

AdamW's eps at 3e-4 lifts the identity share by about 0.09 on train identities and a projection's
judge similarity by 0.07, but not its trait error (`identity_share.py`, `space_fit.py`); 100 steps
gain the fleet's own models on both yardsticks, and rank 4 their trait error. None was read on the
claims the share is meant to serve. Here each variant retrains every train identity's adapter
with params.yaml's finetune section and the variant's overrides ("defaults": the committed fleet,
no retraining; a rank's or targets' adapters rendered at their own layout and the same scaling; to_q and
to_v alone are fewer parameters per adapter, which lifts the identity share), fits a basis to
all of them but N validation train identities' (`inversion_fit.py`'s sample) and reads:
- claim 3 as `ambiguous_input.py` reads it: each validation identity's first render, and its
  painting, made a model by w2w in that basis and by the single-image LoRA, which trains with the
  variant's recipe as the pipeline's would (its steps stay the inversion's);
- claim 1 as `evaluate_sampling` reads it: models drawn by the space's sampler, their consistency
  across seeds and the trait regressor's spread across them, against the validation identities'
  own fleet models.
`--measure projection` reads the space's goals instead (about 2 minutes a variant once its fleet is
kept): the validation identities' own fleet models projected onto that basis, scored as claim 3's
models are, and the projections' relative residuals. `--measure directions`: the directions
stage's classifier on every train adapter's coefficients, out of fold (graded_costs.py's).
Every figure is then compared with the first variant's: paired on the validation identities, the
sampled models unpaired. No held-out identity is read. Needs `dvc repro directions`.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
from ambiguous_input import (  # studies/ is on sys.path
    judged_against,
    read_claim3,
    train_people,
    validation_basis,
)
from fleet_fit import ci, difference
from graded_costs import direction_aucs
from inversion_fit import SEED
from sample_blends import sampled_as_evaluated, trait_spread
from variants import parse_variants

from w2w.adapters.lora import layout_for
from w2w.evaluate.context import Context
from w2w.evaluate.inversion import score_models
from w2w.evaluate.ladder import projected
from w2w.evaluate.sampling import consistency, sample
from w2w.evaluate.stats import sample_rows, unpaired_difference_ci
from w2w.params import Params, load_params
from w2w.space.basis import Basis
from w2w.world.dataset import identities_from_table

DATA, RUNS = Path("data"), Path("studies/runs/recipe_claims")
VARIANTS = {  # finetune overrides of params.yaml's section; {}: the committed fleet (to_out.0 since it was
    "defaults": {},  # measured here against "to_v", the fleet before; the variants below were measured
    "to_q_to_v": {"targets": ["to_q", "to_v"]},  # against to_q and to_v, which this retrains)
    "eps3e-4": {"adam_eps": 3e-4, "targets": ["to_q", "to_v"]},
    "steps100": {"steps": 100, "targets": ["to_q", "to_v"]},
    "eps3e-4_steps100": {"adam_eps": 3e-4, "steps": 100, "targets": ["to_q", "to_v"]},
    # more room in the adapter, the scaling kept (27)
    "rank4": {"rank": 4, "lora_alpha": 108.0, "targets": ["to_q", "to_v"]},
    "to_q": {"targets": ["to_q"]},  # less room: the query projections alone (1,408 of 2,688 parameters)
    "to_v": {"targets": ["to_v"]},  # the value projections alone (1,280)
    # to_v with more room, for the fleet's similarity the held-out run lost: rank 2 (scaling kept), or
    # the keys as well (2,560 parameters either way)
    "to_v_rank2": {"targets": ["to_v"], "rank": 2, "lora_alpha": 54.0},
    "to_k_to_v": {"targets": ["to_k", "to_v"]},
    # the attention output projections (1,408): the fleet gains as 9x to_v's steps (fit_ceiling.py)
    "to_out": {"targets": ["to_out.0"]},
    "steps50": {"steps": 50},  # the committed fleet in fewer steps, a cut for the time budget
    # more room on the output projections, the scaling kept: the fleet +0.056 over rank 1 (fit_ceiling.py)
    "to_out_rank2": {"targets": ["to_out.0"], "rank": 2, "lora_alpha": 54.0},
    # the feed-forward beside or instead of them (fit_ceiling.py): its output (ff.net.2, 3,168 parameters
    # with to_out.0) or its input alone (ff.net.0.proj, 3,168)
    "to_out_ff2": {"targets": ["to_out.0", "ff.net.2"]},
    "ff0": {"targets": ["ff.net.0.proj"]},
    # each render and its mirror image at 1 draw, the same image passes (fleet_fit.py, identity_share.py);
    # "mirrored" is the study's, not a finetune key; the single-image LoRA trains on its image alone
    "to_out_mirrored_draws1": {"draws_per_image": 1, "mirrored": True},
}


def with_recipe(params: Params, overrides: dict) -> Params:
    return params.model_copy(update={"finetune": params.finetune.model_copy(update=overrides)})


def at_rank(ctx: Context, params: Params) -> Context:
    """The context that renders the recipe's adapters: its targets' layout at its rank, and its scaling."""
    fp = params.finetune
    return dataclasses.replace(ctx, layout=layout_for(ctx.pipe.unet, tuple(fp.targets), fp.rank),
                               scaling=fp.lora_alpha / fp.rank)


def read_claim1(ctx: Context, params: Params, basis: Basis, own: np.ndarray) -> dict[str, np.ndarray]:
    """Consistency across seeds and trait spread (population sds, root mean square over the traits)
    of the sampler's models and of the validation identities' fleet models `own` (M, D)."""
    p = params.evaluate_sampling
    out = {}
    for name, adapters in (("sampled", sample(basis, p.models, p.seed, p.covariance, p.components)),
                           ("trained", own)):
        images = sampled_as_evaluated(ctx, adapters, params, desc=name)
        out[f"{name} consistency"] = consistency(ctx, images)
        out[f"{name} trait spread"] = trait_spread(ctx.judge, images)
    return out


def open_committed(identities: int) -> tuple[Context, np.ndarray, np.ndarray]:
    """The committed pipeline's context, `identities` validation train rows (inversion_fit's sample,
    sorted) and every train row."""
    committed = Context.open(DATA / "world", DATA / "weights.zarr", DATA / "base", DATA / "judge")
    rows = np.sort(sample_rows(committed.heldout, False, identities, SEED))
    return committed, rows, np.flatnonzero(~committed.heldout)


def recipe_space(committed: Context, name: str, rows: np.ndarray, train_rows: np.ndarray
                 ) -> tuple[Context, Params, np.ndarray, Basis]:
    """Variant `name`'s context, params, train adapters (T, D) (retrained and kept under RUNS, or the
    committed fleet's) and the basis of all of them but the validation `rows`'."""
    overrides = dict(VARIANTS[name])
    mirror = overrides.pop("mirrored", False)
    varied = with_recipe(load_params(), overrides)
    ctx = at_rank(committed, varied)
    adapters = (train_people(ctx, identities_from_table(ctx.table.iloc[train_rows]), varied, RUNS / name,
                             1.0, f"{name}: fleet", mirror) if VARIANTS[name] else ctx.adapters(train_rows))
    return ctx, varied, adapters, validation_basis(ctx, varied, adapters, rows)


def read_projection(ctx: Context, params: Params, basis: Basis, own: np.ndarray, rows: np.ndarray
                    ) -> dict[str, np.ndarray]:
    """The space goals on the validation rows: their fleet models `own` (len(rows), D) and those
    models projected onto `basis`, scored as read_claim3 scores them; and the projections' relative
    residuals (standardised)."""
    p = params.evaluate_inversion
    people = identities_from_table(ctx.table.iloc[rows])
    references, truth, traits = judged_against(ctx, params, people, rows, 1.0)
    inside, residual = projected(basis, own)
    model = score_models(ctx, own, references, truth, traits, p, "fleet")
    projection = score_models(ctx, inside, references, truth, traits, p, "projected")
    return {"residual": residual, "model similarity": model.similarity,
            "model trait error": model.trait_error, "projected similarity": projection.similarity,
            "projected trait error": projection.trait_error}


def unpaired(x: np.ndarray, y: np.ndarray) -> str:
    lo, hi = unpaired_difference_ci(x, y, 0)
    return f"{x.mean() - y.mean():+.3f} [{lo:+.3f}, {hi:+.3f}]"


def main(argv: list[str]) -> None:
    args = parse_variants(argv, __doc__, VARIANTS, identities=32, measure="claims")
    if args.measure not in ("claims", "projection", "directions"):
        sys.exit(f"--measure: {args.measure!r}; known: claims, projection, directions")
    committed, rows, train_rows = open_committed(args.identities)
    own = np.searchsorted(train_rows, rows)
    first: tuple[str, dict, dict] | None = None
    readings: dict[str, dict[str, np.ndarray]] = {}
    for name in args.variants:
        ctx, varied, adapters, basis = recipe_space(committed, name, rows, train_rows)
        if args.measure == "directions":  # on every train adapter, the basis fitted to them all
            table = ctx.table.iloc[train_rows]
            labels = {a: table[a].to_numpy(dtype=bool) for a in ctx.judge.attribute_names}
            aucs = direction_aucs(varied, adapters, table["identity_id"].to_numpy(), labels)
            worst = min(aucs, key=lambda a: aucs[a][0])
            print(f"{name:8s} direction AUC out of fold, mean {np.mean([v[0] for v in aucs.values()]):.3f}, "
                  f"worst {worst} {aucs[worst][0]:.3f} [{aucs[worst][1]:.3f}, {aucs[worst][2]:.3f}]; "
                  + ", ".join(f"{a} {v[0]:.3f}" for a, v in aucs.items()), flush=True)
            continue
        if args.measure == "projection":
            readings[name] = r = read_projection(ctx, varied, basis, adapters[own], rows)
            kept = r["projected similarity"].mean() / r["model similarity"].mean()
            print(f"{name:8s} a basis of {len(adapters) - len(rows)} ({basis.k} components): "
                  f"projection keeps {kept:.2f} of its model's similarity", flush=True)
            for key, x in r.items():
                versus = (f"   vs {args.variants[0]}: {difference(x, readings[args.variants[0]][key])}"
                          if name != args.variants[0] else "")
                print(f"{name:8s} {key:22s} {x.mean():.3f} {ci(x)}{versus}", flush=True)
            continue
        scored = read_claim3(ctx, varied, name, basis, adapters[own], rows, 1.0)
        claim1 = read_claim1(ctx, varied, basis, adapters[own])
        for key, x in claim1.items():
            print(f"{name:8s} {key:24s} {x.mean():.3f} {ci(x)}", flush=True)
        gap = unpaired(claim1["sampled consistency"], claim1["trained consistency"])
        print(f"{name:8s} sampled - trained consistency {gap}", flush=True)
        if first is None:
            first = (name, scored, claim1)
            continue
        base_name, base_scored, base_claim1 = first
        for key, s in scored.items():
            b = base_scored[key]
            print(f"{name} - {base_name}, {key:16s} similarity {difference(s.similarity, b.similarity)}, "
                  f"trait error {difference(s.trait_error, b.trait_error)}", flush=True)
        for key, x in claim1.items():
            print(f"{name} - {base_name}, {key:24s} {unpaired(x, base_claim1[key])}"
                  if key.startswith("sampled") else
                  f"{name} - {base_name}, {key:24s} {difference(x, base_claim1[key])}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
