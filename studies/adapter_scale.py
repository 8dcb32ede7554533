"""Is a fleet model's adapter too faint when it is sampled? (issue 17: consistency across seeds)

    python studies/adapter_scale.py [SCALE ...]   # default: 1 0.75 1.25 1.5 2; about 2 minutes

Each adapter's update B @ A is multiplied by SCALE at sampling time only (the LoRA's scaling
alpha / r times SCALE; the weights are untouched), the way guidance is an operating point of the
sampler, not of the model. 32 TRAIN identities' own fleet models (never held-out) are sampled as
`evaluate_finetune` samples them (its seeds, steps, guidance and unconditional branch) and judged
against fresh renders of their identity (similarity, trait error) and across their seeds
(consistency); 32 models drawn by the space's Gaussian sampler (`evaluate_sampling`'s seed) give
the sampled models' consistency at the same scale. Each scale is paired against 1 (the evaluations'
setting), 95 % bootstrap intervals over identities. Needs `dvc repro directions`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from fleet_fit import ci, differences  # studies/: the script's folder is first on sys.path

from w2w.adapters.render import render_models
from w2w.evaluate.context import Context
from w2w.evaluate.judged import truth_of
from w2w.evaluate.ladder import scored
from w2w.evaluate.sampling import consistency
from w2w.evaluate.stats import unpaired_difference_ci
from w2w.params import load_params
from w2w.space.basis import Basis
from w2w.space.edit import sample
from w2w.world.references import identity_references

DATA = Path("data")
SCALES = (1.0, 0.75, 1.25, 1.5, 2.0)
IDENTITIES = 32
YARDSTICKS = ("similarity", "trait error", "consistency")  # what `measured` holds per scale


def parse_scales(args: list[str]) -> tuple[float, ...]:
    """The scales to read, 1 first (every other is paired against it)."""
    try:
        scales = [float(a) for a in args] or list(SCALES)
    except ValueError:
        sys.exit(f"adapter_scale: scales must be numbers, got {' '.join(args)!r}")
    if any(s <= 0 for s in scales):
        sys.exit(f"adapter_scale: scales must be above 0, got {' '.join(args)!r}")
    return tuple([1.0] + [s for s in dict.fromkeys(scales) if s != 1.0])


def main() -> None:
    scales = parse_scales(sys.argv[1:])
    params = load_params()
    p, ps = params.evaluate_finetune, params.evaluate_sampling
    ctx = Context.open(DATA / "world", DATA / "weights.zarr", DATA / "base", DATA / "judge")
    rows = ctx.rows(False, IDENTITIES, p.seed)
    table = ctx.table.iloc[rows]
    renders = identity_references(ctx.world, table, p.renders_per_identity, p.seed)
    drawn = sample(Basis.load(DATA / "basis"), IDENTITIES, ps.seed, ps.covariance, ps.components)
    away = p.unconditional == "base"
    measured: dict[float, tuple[np.ndarray, ...]] = {}  # YARDSTICKS
    for s in scales:
        name = f"adapter scale {s:g}"
        images = render_models(ctx.pipe, ctx.adapters(rows), ctx.layout, ctx.scaling * s,
                               params.finetune.prompt, p.samples_per_identity, p.seed, p.sampler_steps,
                               p.guidance_scale, desc=name, base_unconditional=away)
        rung = scored(ctx, name, images, renders, truth_of(table))
        own = consistency(ctx, images)
        sampled = consistency(ctx, render_models(
            ctx.pipe, drawn, ctx.layout, ctx.scaling * s, params.finetune.prompt, ps.samples_per_model,
            ps.seed, ps.sampler_steps, ps.guidance_scale, desc=f"sampled, {name}",
            base_unconditional=ps.unconditional == "base"))
        measured[s] = (rung.similarity, rung.trait_error, own)
        lo, hi = unpaired_difference_ci(sampled, own, ps.seed)
        print(f"{name}: similarity {rung.similarity.mean():.3f} {ci(rung.similarity)}, "
              f"trait error {rung.trait_error.mean():.3f} {ci(rung.trait_error)}, "
              f"consistency {own.mean():.3f} {ci(own)}; sampled models' consistency {sampled.mean():.3f}, "
              f"sampled - trained {sampled.mean() - own.mean():+.3f} [{lo:+.3f}, {hi:+.3f}] "
              f"({IDENTITIES} train identities)", flush=True)
        if s != 1.0:
            print("    against scale 1, paired: " + differences(YARDSTICKS, measured[s], measured[1.0]),
                  flush=True)


if __name__ == "__main__":
    main()
