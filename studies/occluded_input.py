"""Claim 3 from a partly hidden photo: does the space fill in what one image does not show? (issue 17,
the single-image regime: "occluders such as hats or hands")

    python studies/occluded_input.py [--identities N] [VARIANT ...]
    # default: 32 validation identities, every variant; about 9 minutes

In the world as drawn one render shows the judge most of its person, so a single-image LoRA has
little to overfit to. Widening the world's pose makes one render ambiguous but costs every adapter
its share of the person (`ambiguous_input.py`). An occluder hides part of one photo without
touching the world, the fleet or the space: each validation identity's first render gets a flat
box of a muted colour, as a hand, a scarf or a hat would, over the lower face (mouth, nose, beard),
one side of the face, or the top of the head (hair, brows, eyes), one of the three drawn per
identity, placed on the render's own person mask so that it follows the pose. The fleet and the
judge stay the committed ones, trained on unoccluded renders; the basis is fitted, as the pca stage
fits one, to every train adapter but the N validation identities' (`inversion_fit.py`'s seeded
sample, `ambiguous_input.py`'s basis). The references are 8 unoccluded renders: a model is judged
on the whole person.

Variants (each an input to both methods, `evaluate_inversion`'s settings, paired w2w - LoRA):
- render: the first render as it is (the evaluation's input);
- occluded: the same render with its occluder, the plain loss (as the evaluation trains);
- occluded_masked: the same, the loss weighted to the visible person (`finetune.background_weight`
  for the scene and the occluder), the reference's "masked to the face" option.
No held-out identity is read. Needs `dvc repro directions`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from ambiguous_input import judged_against, report, validation_basis  # studies/ is first on sys.path
from fleet_fit import difference
from inversion_fit import SEED
from variants import parse_variants

from w2w.evaluate.context import Context
from w2w.evaluate.inversion import score_models, single_image_lora, w2w_inversion
from w2w.evaluate.judged import similarities, trait_errors
from w2w.evaluate.occluder import PLACES, occluded_first_renders
from w2w.evaluate.stats import sample_rows
from w2w.params import Params, load_params
from w2w.world.dataset import identities_from_table

DATA = Path("data")

VARIANTS = {"render": (False, False), "occluded": (True, False), "occluded_masked": (True, True)}
def inputs(ctx: Context, params: Params, rows: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """The rows' first renders (M, S, S, 3), the same occluded, the occluded ones' visible person
    masks (M, S, S), and each occluder's place (`occluded_first_renders`, seeded by SEED)."""
    renders = np.asarray(ctx.images.get_orthogonal_selection((rows, 0)))
    return renders, *occluded_first_renders(ctx.table.iloc[rows], renders, params.synthesize.seed, SEED)


def main(argv: list[str]) -> None:
    args = parse_variants(argv, __doc__, VARIANTS, identities=32)
    params = load_params()
    p, fp = params.evaluate_inversion, params.finetune
    ctx = Context.open(DATA / "world", DATA / "weights.zarr", DATA / "base", DATA / "judge")
    rows = np.sort(sample_rows(ctx.heldout, False, args.identities, SEED))  # inversion_fit's validation
    table = ctx.table.iloc[rows]
    train_rows = np.flatnonzero(~ctx.heldout)
    basis = validation_basis(ctx, params, ctx.adapters(train_rows), rows)
    references, truth, traits = judged_against(ctx, params, identities_from_table(table), rows, 1.0)
    render, hidden, visible, places = inputs(ctx, params, rows)
    print(f"{len(rows)} validation train identities, a basis of {len(basis.train_coefficients)} other train "
          f"adapters ({basis.k} components); occluders: "
          + ", ".join(f"{place} {places.count(place)}" for place in PLACES), flush=True)
    for name, images in (("render", render), ("occluded", hidden)):
        report("input", name, (similarities(ctx.judge, images[:, None], references),
                               trait_errors(ctx.judge, images[:, None], traits)))
    report("fleet", "model", score_models(ctx, ctx.adapters(rows), references, truth, traits, p, "fleet"))
    ids = table["identity_id"].tolist()
    for name in args.variants:
        occluded, masked = VARIANTS[name]
        images, person = (hidden if occluded else render), (visible if masked else None)
        w2w = score_models(ctx, w2w_inversion(ctx, basis, images, p, fp, person), references, truth, traits,
                           p, f"{name} w2w")
        lora = score_models(ctx, single_image_lora(ctx, images, ids, p, fp, person), references, truth,
                            traits, p, f"{name} lora")
        report(name, "w2w", w2w)
        report(name, "single-image LoRA", lora)
        print(f"{name:8s} w2w - LoRA: similarity {difference(w2w.similarity, lora.similarity)}, "
              f"trait error {difference(w2w.trait_error, lora.trait_error)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
