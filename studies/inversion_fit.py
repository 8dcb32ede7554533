"""Inversion's operating points on a validation split of TRAIN identities (issue 17, claim 3).

    python studies/inversion_fit.py [--identities N] [VARIANT ...]
    # default: 32 validation identities, every variant; about 25 minutes

evaluate_inversion turns one image of a held-out identity into a model two ways, w2w (only the
coefficients of the basis) and a single-image LoRA, and the gap between them is claim 3. Its w2w lr
(0.03) was chosen on 6 train identities inverted into the committed basis, which holds those very
identities' adapters, and the LoRA trains at the fleet's lr. Here both are chosen as a held-out
identity meets them: a basis is fitted, as the pca stage fits it (every component), to every
train adapter but those of N validation train identities (a seeded sample), and each variant turns
each validation identity's first render, and its painting, into a model that is sampled and scored
as the stage scores it (the judge's similarity to 8 fresh renders, and the trait error), paired
against the first variant of its method, 95 % bootstrap intervals over the validation identities.
No held-out identity is read. Needs `dvc repro directions`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from fleet_fit import ci, difference  # studies/: the script's folder is first on sys.path
from variants import parse_variants

from w2w.evaluate.context import Context
from w2w.evaluate.inversion import Scored, score_models, single_image_lora, w2w_inversion
from w2w.evaluate.judged import truth_of
from w2w.evaluate.stats import sample_rows
from w2w.params import EvaluateInversionParams, FinetuneParams, load_params
from w2w.space.basis import Basis
from w2w.space.pca import fit_basis
from w2w.storage import STREAM_IMAGES, STREAM_OOD
from w2w.world.dataset import identities_from_table, render_identities
from w2w.world.mask import identity_masks
from w2w.world.references import identity_references

DATA = Path("data")
SEED = 23  # the validation sample: train identities, none of the edits' or the other studies' seeds

# variant -> (method, evaluate_inversion overrides, finetune overrides: the LoRA's lr, either method's
# lr_schedule and average_tail, which both take from the fleet); the first of each
# method is params.yaml's (w2w lr 0.1; the LoRA at the fleet's lr 0.01), the rest are paired against it
VARIANTS = {
    "w2w": ("w2w", {}, {}),
    "w2w_lr0.01": ("w2w", {"lr": 0.01}, {}),
    "w2w_lr0.03": ("w2w", {"lr": 0.03}, {}),                  # the lr before this study
    "w2w_lr0.2": ("w2w", {"lr": 0.2}, {}),
    "w2w_lr0.3": ("w2w", {"lr": 0.3}, {}),
    "w2w_k128": ("w2w", {"components": 128}, {}),
    "w2w_steps400": ("w2w", {"steps": 400}, {}),              # both methods' budget doubled
    "w2w_steps100_draws8": ("w2w", {"steps": 100, "draws_per_step": 8}, {}),  # the same budget
    # the reference's out-of-distribution recipe (1,000 of its 10,000 inversion components, lr 1, 800
    # steps), scaled: a tenth of the components, at the lr it pairs with
    "w2w_k64_lr1": ("w2w", {"components": 64, "lr": 1.0}, {}),
    "w2w_k128_lr1": ("w2w", {"components": 128, "lr": 1.0}, {}),
    "w2w_k64_lr1_steps800": ("w2w", {"components": 64, "lr": 1.0, "steps": 800}, {}),
    # Adam's iterates at lr 0.1 in whitened coordinates still move at the end: a cosine decay of the
    # lr, or the mean of the last half of the iterates, at no extra compute (both methods)
    "w2w_tail0.5": ("w2w", {}, {"average_tail": 0.5}),
    "w2w_cosine": ("w2w", {}, {"lr_schedule": "cosine"}),
    "w2w_cosine_lr0.2": ("w2w", {"lr": 0.2}, {"lr_schedule": "cosine"}),
    "lora": ("lora", {}, {}),
    "lora_lr0.005": ("lora", {}, {"lr": 0.005}),
    "lora_lr0.02": ("lora", {}, {"lr": 0.02}),
    "lora_steps400": ("lora", {"steps": 400}, {}),
    "lora_steps100_draws8": ("lora", {"steps": 100, "draws_per_step": 8}, {}),
    "lora_tail0.5": ("lora", {}, {"average_tail": 0.5}),
    "lora_cosine": ("lora", {}, {"lr_schedule": "cosine"}),
    "lora_cosine_lr0.02": ("lora", {}, {"lr_schedule": "cosine", "lr": 0.02}),
}
# the loss weighted to the person by the input's mask, as the fleet's (finetune.background_weight for
# the scene; the reference's inversion may be masked to the face), both methods
PERSON = {"w2w_person": "w2w", "lora_person": "lora"}
VARIANTS.update({name: (method, {}, {}) for name, method in PERSON.items()})


def basis_without(ctx: Context, params, rows: np.ndarray) -> Basis:
    """A basis fitted as the pca stage fits it (every component) to every train adapter but those of
    `rows`: the space as a held-out identity meets it."""
    fitted = np.setdiff1d(np.flatnonzero(~ctx.heldout), rows)
    basis = fit_basis(ctx.weights, fitted, ctx.table["identity_id"].to_numpy(), params.pca.model_copy(
        update={"components": len(fitted) - 1, "method": "exact"}))
    print(f"{len(rows)} validation train identities; a basis of the other {len(fitted)} train adapters, "
          f"{basis.k} components", flush=True)
    return basis


def validation_space(ctx: Context, params, identities: int) -> tuple[np.ndarray, Basis]:
    """The validation train rows (SEED's sample, sorted) and `basis_without` them."""
    rows = np.sort(sample_rows(ctx.heldout, False, identities, SEED))
    return rows, basis_without(ctx, params, rows)


def one_image_models(method: str, ctx: Context, basis: Basis, images: np.ndarray, table,
                     p: EvaluateInversionParams, fp: FinetuneParams, person: np.ndarray | None = None
                     ) -> np.ndarray:
    """(M, D) a model of each of `images` (M, S, S, 3) of `table`'s people, by "w2w" (in `basis`) or
    "lora" (the single-image LoRA), as evaluate_inversion makes them."""
    if method == "w2w":
        return w2w_inversion(ctx, basis, images, p, fp, person)
    return single_image_lora(ctx, images, table["identity_id"].tolist(), p, fp, person)


def one_image_inputs(ctx: Context, rows: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Each row's first training render and its painting, (M, S, S, 3) each."""
    people = identities_from_table(ctx.table.iloc[rows])
    return {"render": np.asarray(ctx.images.get_orthogonal_selection((rows, 0))),
            "painting": render_identities(people, 1, seed, STREAM_OOD, ctx.image_size, painting=True)[:, 0]}


def main(argv: list[str]) -> None:
    args = parse_variants(argv, __doc__, VARIANTS, identities=32)
    params = load_params()
    p, fp = params.evaluate_inversion, params.finetune
    ctx = Context.open(DATA / "world", DATA / "weights.zarr", DATA / "base", DATA / "judge")
    rows, basis = validation_space(ctx, params, args.identities)
    table = ctx.table.iloc[rows]
    renders = identity_references(ctx.world, table, p.renders_per_identity, p.seed)
    truth, traits = table[ctx.judge.attribute_names].to_numpy(dtype=bool), truth_of(table)
    inputs = one_image_inputs(ctx, rows, params.synthesize.seed)
    people, seed, size = identities_from_table(table), params.synthesize.seed, ctx.image_size
    masks = {"render": np.stack([identity_masks(i, 1, seed, STREAM_IMAGES, size)[0] for i in people]),
             "painting": np.stack([identity_masks(i, 1, seed, STREAM_OOD, size)[0] for i in people])}
    scores: dict[str, dict[str, Scored]] = {}
    for name in args.variants:
        method, overrides, lora_overrides = VARIANTS[name]
        pv, fv = p.model_copy(update=overrides), fp.model_copy(update=lora_overrides)
        scores[name] = {}
        for setting, images in inputs.items():
            person = masks[setting] if name in PERSON else None
            weights = one_image_models(method, ctx, basis, images, table, pv, fv, person)
            s = score_models(ctx, weights, renders, truth, traits, pv, f"{name} {setting}")
            scores[name][setting] = s
            line = (f"{name:13s} {setting:8s} similarity {s.similarity.mean():.3f} {ci(s.similarity)}  "
                    f"trait error {s.trait_error.mean():.3f} {ci(s.trait_error)}  "
                    f"realistic {s.realistic.mean():.3f} {ci(s.realistic)}")
            base = next(scores[v][setting] for v in scores if VARIANTS[v][0] == method)
            if base is not s:
                line += (f"  vs {method}: {difference(s.similarity, base.similarity)}, "
                         f"trait {difference(s.trait_error, base.trait_error)}, "
                         f"realistic {difference(s.realistic, base.realistic)}")
            print(line, flush=True)
    print("\nw2w - LoRA, paired (each w2w variant against the LoRA variant of its name, else the LoRA at the "
          "fleet's lr and the same steps and draws):")
    steps = {v: (VARIANTS[v][1].get("steps", p.steps), VARIANTS[v][1].get("draws_per_step", p.draws_per_step))
             for v in scores}
    for name in (v for v in scores if VARIANTS[v][0] == "w2w"):
        twin = "lora" + name.removeprefix("w2w")  # w2w_tail0.5 against lora_tail0.5
        lora = twin if twin in scores else next(
            (v for v in scores if VARIANTS[v][0] == "lora" and not VARIANTS[v][2]
             and steps[v] == steps[name] and (v in PERSON) == (name in PERSON)), None)
        for setting in inputs if lora else ():
            w, lo = scores[name][setting], scores[lora][setting]
            print(f"{name:13s} - {lora:13s} {setting:8s} similarity "
                  f"{difference(w.similarity, lo.similarity)}, trait error "
                  f"{difference(w.trait_error, lo.trait_error)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
