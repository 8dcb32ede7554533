"""Does w2w catch the single-image LoRA as the space grows? (issue 17, claim 3)

    python studies/inversion_space.py [--identities N] [--fresh F] [--sizes M1,M2,...]
    # default: 32 validation identities, 628 fresh people, spaces of 157, 314, 628 and 1256 adapters;
    # about 14 minutes to train the fresh people (kept and reused), then about 3 a space
    python studies/inversion_space.py --measure sampling --sizes 314,628,1256
    # evaluate_sampling's sampled models from each space instead: their consistency across seeds
    python studies/inversion_space.py --fresh 1256 --sizes 1256,1884
    # a space of three times the train adapters (about 15 minutes more for the 628 more people)
    python studies/inversion_space.py --draws 1 --sizes 628,1256
    # every adapter retrained with that many noise draws per render (the fleet's compute halved)

`inversion_fit.py`'s setting (a basis of every train adapter but those of N validation train
identities, each validation identity's first render and its painting turned into a model, scored as
evaluate_inversion scores it), with the basis fitted, as the pca stage fits it (every component), to
nested seeded subsets of those 628 committed fleet adapters, and beyond them to all of them plus F
people the renderer draws afresh (`space_size.py`'s: in no world, so the base never saw them, as it
never saw a held-out identity), trained with params.yaml's finetune recipe on 8 renders each as the
world renders its train identities. w2w at each size is paired against the single-image LoRA on the
same inputs, which does not depend on the space. With `--measure sampling`, each basis instead
gives evaluate_sampling's sampled models (claim 1), whose consistency across seeds is set beside
the validation identities' own fleet models'. No held-out identity is read. The fresh people's
adapters are kept under the ignored studies/runs/inversion_space/. Needs `dvc repro directions`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from ambiguous_input import train_people  # studies/: the script's folder is first on sys.path
from fleet_fit import ci, difference
from inversion_fit import SEED
from space_size import FRESH_FIRST_ID
from variants import parse_variants

from w2w.adapters.render import render_models
from w2w.evaluate.context import Context
from w2w.evaluate.inversion import score_models, single_image_lora, w2w_inversion
from w2w.evaluate.judged import realistic_fractions, truth_of
from w2w.evaluate.sampling import consistency
from w2w.evaluate.stats import sample_rows
from w2w.params import Params, load_params
from w2w.space.basis import Basis
from w2w.space.edit import sample
from w2w.space.pca import fit_in_memory
from w2w.storage import STREAM_OOD
from w2w.world.dataset import identities_from_table, render_identities
from w2w.world.identity import sample_identity
from w2w.world.references import identity_references

DATA, RUNS = Path("data"), Path("studies/runs/inversion_space")


def main(argv: list[str]) -> None:
    args = parse_variants(argv, __doc__, {}, identities=32, default=[], fresh=628, sizes="157,314,628,1256",
                          draws=0, measure="inversion")
    if args.measure not in ("inversion", "sampling"):
        sys.exit(f"--measure: inversion or sampling, got {args.measure!r}")
    sizes = sorted(int(x) for x in args.sizes.split(","))
    params = load_params()
    committed = args.draws in (0, params.finetune.draws_per_image)  # else every adapter is retrained
    if not committed:
        params = params.model_copy(update={"finetune": params.finetune.model_copy(
            update={"draws_per_image": args.draws})})
    seed = params.synthesize.seed
    ctx = Context.open(DATA / "world", DATA / "weights.zarr", DATA / "base", DATA / "judge")
    rows = np.sort(sample_rows(ctx.heldout, False, args.identities, SEED))  # inversion_fit's validation
    fitted = np.setdiff1d(np.flatnonzero(~ctx.heldout), rows)
    if sizes[0] < 2 or sizes[-1] > len(fitted) + args.fresh:
        sys.exit(f"--sizes: each between 2 and {len(fitted)} train adapters + --fresh {args.fresh}")
    ids = ctx.table["identity_id"].to_numpy()
    people = [sample_identity(FRESH_FIRST_ID + i, seed) for i in range(max(0, sizes[-1] - len(fitted)))]
    fresh = train_people(ctx, people, params, RUNS / "fresh", 1.0, "fresh people") if people else None
    world = (ctx.adapters(fitted) if committed else
             train_people(ctx, identities_from_table(ctx.table.iloc[fitted]), params, RUNS / "world", 1.0,
                          "the world's train identities"))
    space = np.concatenate([world] + ([fresh] if people else []))  # (628 + F, D)
    space_ids = np.concatenate([ids[fitted], [i.identity_id for i in people]])
    # nested: the world's train adapters shuffled, then the fresh people in order
    order = np.concatenate([np.random.default_rng(5).permutation(len(fitted)),
                            np.arange(len(fitted), len(space))])
    bases = {m: (m - len(fitted), fit_in_memory(space[np.sort(order[:m])].astype(np.float64),
                                                space_ids[np.sort(order[:m])], m - 1, "exact", params.pca))
             for m in sizes}  # size -> (fresh people in it, basis)
    if args.measure == "sampling":
        sampling(ctx, params, bases, ctx.adapters(rows) if committed else None)
    else:
        inversion(ctx, params, bases, rows)


def inversion(ctx: Context, params: Params, bases: dict[int, tuple[int, Basis]], rows: np.ndarray) -> None:
    """w2w into each basis against the single-image LoRA, from each validation row's render and painting."""
    p, fp, seed = params.evaluate_inversion, params.finetune, params.synthesize.seed
    table = ctx.table.iloc[rows]
    renders = identity_references(ctx.world, table, p.renders_per_identity, p.seed)
    truth, traits = table[ctx.judge.attribute_names].to_numpy(dtype=bool), truth_of(table)
    # the world's first training render, as the stage inverts, and the painting
    inputs = {"render": np.asarray(ctx.images.get_orthogonal_selection((rows, 0))),
              "painting": render_identities(identities_from_table(table), 1, seed, STREAM_OOD,
                                            ctx.image_size, painting=True)[:, 0]}
    lora = {setting: score_models(ctx, single_image_lora(ctx, images, table["identity_id"].tolist(), p, fp),
                                  renders, truth, traits, p, f"lora {setting}")
            for setting, images in inputs.items()}
    for setting, s in lora.items():
        print(f"single-image LoRA from the {setting:8s}: similarity {s.similarity.mean():.3f} "
              f"{ci(s.similarity)}, trait error {s.trait_error.mean():.3f} {ci(s.trait_error)}", flush=True)
    for m, (fresh, basis) in bases.items():
        for setting, images in inputs.items():
            s = score_models(ctx, w2w_inversion(ctx, basis, images, p, fp), renders, truth, traits, p,
                             f"w2w {m} {setting}")
            print(f"a space of {m:5d} ({max(0, fresh):4d} fresh), {setting:8s}: w2w similarity "
                  f"{s.similarity.mean():.3f} {ci(s.similarity)}, trait error {s.trait_error.mean():.3f}; "
                  f"w2w - LoRA {difference(s.similarity, lora[setting].similarity)}, trait error "
                  f"{difference(s.trait_error, lora[setting].trait_error)}", flush=True)


def sampling(ctx: Context, params: Params, bases: dict[int, tuple[int, Basis]], trained: np.ndarray | None
             ) -> None:
    """evaluate_sampling's sampled models drawn from each basis: their consistency across seeds and
    the share of their samples called renders, beside the validation identities' own fleet models."""
    ps = params.evaluate_sampling

    def render(adapters: np.ndarray, desc: str) -> np.ndarray:
        return render_models(ctx.pipe, adapters, ctx.layout, ctx.scaling, params.finetune.prompt,
                             ps.samples_per_model, ps.seed, ps.sampler_steps, ps.guidance_scale, desc=desc)

    if trained is not None:
        c = consistency(ctx, render(trained, "trained"))
        print(f"the validation identities' fleet models: consistency {c.mean():.3f} {ci(c)}", flush=True)
    for m, (fresh, basis) in bases.items():
        samples = render(sample(basis, ps.models, ps.seed, ps.covariance, ps.components), f"sampled {m}")
        c, real = consistency(ctx, samples), realistic_fractions(ctx.judge, samples)
        print(f"a space of {m:5d} ({max(0, fresh):4d} fresh): {ps.models} sampled models' consistency "
              f"{c.mean():.3f} {ci(c)}, realistic {real.mean():.3f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
