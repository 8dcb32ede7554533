"""Guidance away from the base: do the models' samples hold their person better? (issue 17)

    python studies/base_guidance.py [--identities N] [--as ladder|finetune]   # default 32, ladder; needs
                                                       # the default run (dvc repro pca); about 5 minutes

Classifier-free guidance runs a model twice a step, on its prompt and on the empty one, and moves
each sample from the second towards the first and beyond: eps_u + g (eps_c - eps_u). Both
branches carry the model's adapter, so what guidance amplifies is the prompt's effect within that
model. With the unconditional branch run by the base UNet instead (`render_models(...,
base_unconditional=True)`), guidance amplifies everything the model draws that the base's empty
prompt does not, the adapter's person among it. At g = 1 the two are the same (the conditional
branch alone).

On a seeded sample of TRAIN identities' fleet models (the committed run's; never held-out), for
each setting: judge similarity and trait error as the ladder samples a model (evaluate_inversion's
prompts, seeds and steps; with `--as finetune` as evaluate_finetune samples one: its one prompt,
seeds and steps, which `train_choices.py guidance` reads on other identities), consistency across
seeds as evaluate_sampling samples trained models, the share of those samples the style head calls
renders, and the same consistency for the reference's sampled models and the attributes-first
blends (evaluate_sampling's sizes and seeds): claim 1's gap at each setting. Differences against
guidance 2 through the model (the setting before) are paired over identities for the trained
models, unpaired for the sampled ones. The evaluations' guidance is chosen by
`train_choices.py guidance`, which samples as evaluate_finetune does (one prompt, 25 steps); this
study reads the same settings as the ladder and the inversion sample them, and both read train
identities only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from fleet_fit import ci, difference  # studies/ is on sys.path

from w2w.adapters.render import render_models
from w2w.evaluate.context import Context
from w2w.evaluate.judged import realistic_fractions, similarities, trait_errors, truth_of
from w2w.evaluate.sampling import consistency
from w2w.evaluate.stats import unpaired_difference_ci
from w2w.params import load_params
from w2w.space.alike import attribute_labels, sample_alike
from w2w.space.basis import Basis
from w2w.space.edit import sample
from w2w.world.references import identity_references

DATA = Path("data")
# name: (guidance scale, unconditional branch through the base)
SETTINGS = {
    "guidance 2 through the model (the setting before)": (2.0, False),
    "guidance 1 (the conditional branch alone)": (1.0, False),
    "guidance 3 through the model": (3.0, False),
    "guidance 1.5 away from the base": (1.5, True),
    "guidance 2 away from the base": (2.0, True),
    "guidance 3 away from the base": (3.0, True),
    "guidance 4 through the model": (4.0, False),
    "guidance 4 away from the base": (4.0, True),
    "guidance 5 away from the base": (5.0, True),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--identities", type=int, default=32)
    parser.add_argument("--as", dest="protocol", choices=("ladder", "finetune"), default="ladder",
                        help="similarity and trait error sampled as the ladder or as evaluate_finetune")
    args = parser.parse_args(argv)
    ctx = Context.open(DATA / "world", DATA / "weights.zarr", DATA / "base", DATA / "judge")
    basis = Basis.load(DATA / "basis")
    params = load_params()
    inv, sp = params.evaluate_inversion, params.evaluate_sampling
    rows = ctx.rows(False, args.identities, seed=23)  # train identities, as fleet_fit.py samples them
    table = ctx.table.iloc[rows]
    references = identity_references(ctx.world, table, inv.renders_per_identity, inv.seed)
    truth = truth_of(table)
    trained = ctx.adapters(rows)                                                   # (M, D)
    drawn = {"the reference's sampler": sample(basis, sp.models, sp.seed, sp.covariance, sp.components),
             "attributes first": sample_alike(basis, attribute_labels(ctx.table, basis.train_identity_ids),
                                              sp.models, sp.seed, sp.alike_people)}

    def render(adapters: np.ndarray, prompt: str, samples: int, seed: int, steps: int, g: float,
               base: bool, desc: str) -> np.ndarray:
        return render_models(ctx.pipe, adapters, ctx.layout, ctx.scaling, prompt, samples, seed, steps, g,
                             desc=desc, base_unconditional=base)

    first = None
    for name, (g, base) in SETTINGS.items():
        if args.protocol == "ladder":
            ladder = np.concatenate([render(trained, prompt, inv.samples_per_prompt, inv.seed,
                                            inv.sampler_steps, g, base, "models")
                                     for prompt in inv.prompts], 1)
        else:
            fp = params.evaluate_finetune
            ladder = render(trained, params.finetune.prompt, fp.samples_per_identity, fp.seed,
                            fp.sampler_steps, g, base, "models")
        sim, err = similarities(ctx.judge, ladder, references), trait_errors(ctx.judge, ladder, truth)

        def seeds(adapters: np.ndarray, desc: str, g: float = g, base: bool = base) -> np.ndarray:
            return consistency(ctx, render(adapters, params.finetune.prompt, sp.samples_per_model, sp.seed,
                                           sp.sampler_steps, g, base, desc))  # as evaluate_sampling reads it

        real = realistic_fractions(ctx.judge, ladder)  # does the extrapolation still draw renders?
        own = seeds(trained, "seeds")
        sampled = {k: seeds(v, k) for k, v in drawn.items()}
        gaps = {k: v.mean() - own.mean() for k, v in sampled.items()}
        print(f"{name}: similarity {sim.mean():.3f} {ci(sim)}   trait error {err.mean():.3f} {ci(err)}   "
              f"consistency {own.mean():.3f} {ci(own)}   called renders {real.mean():.3f}", flush=True)
        for k, v in sampled.items():
            lo, hi = unpaired_difference_ci(v, own, sp.seed)
            print(f"    {k}: consistency {v.mean():.3f} {ci(v)}, against the trained models "
                  f"{gaps[k]:+.3f} [{lo:+.3f}, {hi:+.3f}]", flush=True)
        if first is None:
            first = sim, err, own, sampled
            continue
        print(f"    vs the setting before: similarity {difference(sim, first[0])}, trait error "
              f"{difference(err, first[1])}, consistency {difference(own, first[2])}; "
              + "; ".join(f"{k} {v.mean() - first[3][k].mean():+.3f}" for k, v in sampled.items()),
              flush=True)
    print(f"({len(rows)} train identities; {sp.models} sampled models each)", flush=True)


if __name__ == "__main__":
    main()
