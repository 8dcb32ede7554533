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
from w2w.evaluate.stats import sample_rows
from w2w.params import Params, load_params
from w2w.storage import STREAM_IMAGES
from w2w.world.dataset import identities_from_table
from w2w.world.mask import identity_masks

DATA = Path("data")
VARIANTS = {"render": (False, False), "occluded": (True, False), "occluded_masked": (True, True)}
PLACES = ("lower face", "one side", "top of the head")


def occlude(image: np.ndarray, person: np.ndarray, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray, str]:
    """A copy of `image` (S, S, 3) with a flat muted box over part of the person, the person mask
    (S, S) without the hidden part, and where the box went. The box is placed on the mask's bounding
    box (rows top..bottom, columns left..right), so it follows the render's pose."""
    rows, cols = np.nonzero(person > 0.5)
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    height, width = bottom - top, right - left
    place = PLACES[int(rng.integers(len(PLACES)))]
    if place == "lower face":     # mouth, nose tip and beard: a hand or a scarf
        box = (top + int(0.55 * height), top + int(0.85 * height), left, right)
    elif place == "one side":     # a raised hand over one eye, cheek and ear
        half = width // 2
        box = (top + int(0.2 * height), top + int(0.8 * height),
               *((left, left + half) if rng.random() < 0.5 else (right - half, right)))
    else:                         # a hat pulled down over hair, brows and eyes
        box = (max(0, top - 1), top + int(0.45 * height), max(0, left - 1), right + 1)
    colour = rng.integers(60, 200, size=3).astype(np.uint8)  # muted, as the world's clothes
    out, mask = image.copy(), person.copy()
    out[box[0]:box[1], box[2]:box[3]] = colour
    mask[box[0]:box[1], box[2]:box[3]] = 0.0
    return out, mask, place


def occlude_each(images: np.ndarray, masks: np.ndarray, ids: list[int]
                 ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """`occlude` for each image (M, S, S, 3) and its person mask (M, S, S): the occluded images, their
    visible person masks and each occluder's place; one occluder draw per identity, seeded by its id."""
    out = [occlude(image, mask, np.random.default_rng([SEED, i]))
           for image, mask, i in zip(images, masks, ids, strict=True)]
    return np.stack([o[0] for o in out]), np.stack([o[1] for o in out]), [o[2] for o in out]


def inputs(ctx: Context, params: Params, rows: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """The rows' first renders (M, S, S, 3), the same occluded (`occlude_each`), the occluded ones'
    visible person masks (M, S, S), and each occluder's place."""
    s = params.synthesize
    renders = np.asarray(ctx.images.get_orthogonal_selection((rows, 0)))
    people = identities_from_table(ctx.table.iloc[rows])
    masks = np.stack([identity_masks(person, 1, s.seed, STREAM_IMAGES, s.image_size)[0] for person in people])
    return renders, *occlude_each(renders, masks, [person.identity_id for person in people])


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
