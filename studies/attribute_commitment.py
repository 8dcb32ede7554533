"""Which attributes does a fleet model leave to the seed, and does the recipe decide them? (issue 17)

    python studies/attribute_commitment.py [--identities N] [VARIANT ...]
    # default: 128 train identities, every variant; about 4 minutes a variant at 70 steps, 30 in all

A model made of two people's attributes shows one or the other from seed to seed
(`sample_blends.py`), and an edit at a prompting-level strength is the same coin (`edit_flips.py`).
Trained models toss it too, on the fine attributes. Each variant retrains the adapters of N train
identities as `fleet_fit.py` does (the world's renders through the cached latents, params.yaml's
finetune section with the variant's overrides), samples every model as `evaluate_sampling` does
(its prompt, seeds, steps and guidance) and reads each sample's 13 attributes with the attribute
reader. Per attribute: how often a model shows it when its identity has it and when it has not,
and the share of models whose seeds disagree about it (undecided). Then both yardsticks, as
`fleet_fit.py` scores a variant, paired against the first. The variants ask whether the fleet's
timesteps, which skip the cleanest 400 of the base's 1000 where the fine detail is drawn, leave
the fine attributes to the base's prior. No held-out identity is read. Needs `dvc repro judge`.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from fleet_fit import ci, difference, open_study, retrain  # studies/ is on sys.path
from sample_blends import sample_calls, sampled_as_evaluated
from variants import parse_variants

from w2w.evaluate.ladder import model_rung
from w2w.params import load_params

VARIANTS = {  # finetune overrides of params.yaml's section (the default: timesteps [400, 1000))
    "defaults": {},
    "t0": {"timestep_range": [0, 1000]},
    "t200": {"timestep_range": [200, 1000]},
    "t0_snr1": {"timestep_range": [0, 1000], "snr_gamma": 1.0},
    "steps100": {"steps": 100},
    # more room in the adapter (the miniature profile may change rank and targets; the scaling kept)
    "rank4": {"rank": 4, "lora_alpha": 108.0},
    # named for q, k, v and out, but "to_out.0" matched no layer until the layout matched dotted names
    # (as peft does): what was measured is q, k and v, pinned so its figures reproduce
    "qkvo": {"targets": ["to_q", "to_k", "to_v"]},
}


def commitment(calls: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
    """Per attribute (A,): shown when true, shown when false, undecided when true / false; and per
    model (M,): the share of its attributes its seeds disagree about."""
    shown = calls.mean(1)                                   # (M, A) share of seeds showing it
    undecided = calls.any(1) & ~calls.all(1)                # (M, A)
    def by(x: np.ndarray, t: bool) -> np.ndarray:
        mask = truth == t
        return np.where(mask.any(0), (x * mask).sum(0) / np.maximum(mask.sum(0), 1), np.nan)
    return {"shown | has": by(shown, True), "shown | has not": by(shown, False),
            "undecided | has": by(undecided, True), "undecided | has not": by(undecided, False),
            "undecided per model": undecided.mean(1)}


def main(argv: list[str]) -> None:
    args = parse_variants(argv, __doc__, VARIANTS, identities=128)
    ctx, latents, rows, references, traits = open_study(args.identities)
    params = load_params()
    p = params.evaluate_inversion
    names = ctx.judge.attribute_names
    truth = ctx.table.iloc[rows][list(names)].to_numpy(dtype=bool)    # (M, A)
    print(f"{len(rows)} train identities; prevalence "
          + " ".join(f"{a} {t:.2f}" for a, t in zip(names, truth.mean(0), strict=True)), flush=True)
    first = None
    for name in args.variants:
        adapters, trained = retrain(ctx, latents, rows, VARIANTS[name])
        with torch.no_grad():
            rung = model_rung(trained, name, adapters, references, traits, p)
            samples = sampled_as_evaluated(trained, adapters, params, desc="calls")
            read = commitment(sample_calls(trained.judge, samples), truth)
        print(f"\n{name}: similarity {rung.similarity.mean():.3f} {ci(rung.similarity)}, trait error "
              f"{rung.trait_error.mean():.3f} {ci(rung.trait_error)}; attributes undecided per model "
              f"{read['undecided per model'].mean():.3f} {ci(read['undecided per model'])}", flush=True)
        print(f"  {'attribute':12s} " + "  ".join(f"{k:>18s}" for k in list(read)[:4]), flush=True)
        for j, a in enumerate(names):
            print(f"  {a:12s} " + "  ".join(f"{read[k][j]:18.2f}" for k in list(read)[:4]), flush=True)
        if first is None:
            first = (name, rung, read)
            continue
        base, base_rung, base_read = first
        print(f"  vs {base}: similarity {difference(rung.similarity, base_rung.similarity)}, trait error "
              f"{difference(rung.trait_error, base_rung.trait_error)}, attributes undecided per model "
              f"{difference(read['undecided per model'], base_read['undecided per model'])}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
