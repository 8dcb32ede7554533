"""The science the trained-space tests assert on, as numbers: edits of held-out identities against
random directions, and inversion of train identities' images (tests/spaces.py records them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

EDIT_STRENGTH = 4.0  # train stds along the direction
IDENTITIES = 8       # edited and inverted per test
# The edits sample in 10 steps, half their 20 before, in half the time: on the space built before
# this one they kept their margin over random directions at 10 (README, "Profiles"). The inversion
# keeps its 200 steps: at 100, one of that space's 8 identities sat on the test's line.
SAMPLER_STEPS = 10
INVERSION_STEPS = 200


def open_space(root: Path):
    from w2w.evaluate.context import Context
    from w2w.space.basis import Basis
    from w2w.space.directions import Directions

    ctx = Context.open(root / "world", root / "weights.zarr", root / "base", root / "judge")
    return ctx, Basis.load(root / "basis"), Directions.load(root / "directions")


def first_rows(ctx, heldout: bool) -> np.ndarray:
    """The first IDENTITIES held-out (or train) rows: the same identities whatever the evaluation's
    sampling of rows does."""
    return np.flatnonzero(ctx.heldout == heldout)[:IDENTITIES]


def edit_shifts(ctx, basis, directions) -> dict[str, np.ndarray]:
    """(identities, attributes) target shifts of held-out identities edited along each attribute's
    direction ("w2w") and along random unit directions of the same strength unit ("random")."""
    from committed import section

    from w2w.evaluate.edits import sweep, w2w_displacements
    from w2w.space.directions import Directions

    random = np.random.default_rng(0).standard_normal(directions.directions.shape)
    control = Directions(directions.attributes, random / np.linalg.norm(random, axis=1, keepdims=True),
                         directions.scales)
    names = directions.attributes
    displacements = {"w2w": w2w_displacements(basis, directions, names),
                     "random": w2w_displacements(basis, control, names)}
    p = section("evaluate_edits", strengths=[EDIT_STRENGTH], samples_per_model=2,
                sampler_steps=SAMPLER_STEPS, guidance_scale=3.0)
    _, results = sweep(ctx, first_rows(ctx, True), names, displacements, p, "sks person")
    return {m: results[m][EDIT_STRENGTH].target_shift for m in ("w2w", "random")}


def inversion_recovery(ctx, basis, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Train identities' first images inverted in k components: (distance to own / to the mean,
    own identity's rank among all train identities), each (identities,)."""
    from w2w.space.invert import identity_recovery, invert_batch

    rows = first_rows(ctx, False)
    images = np.asarray(ctx.images.get_orthogonal_selection((rows, 0)))
    rank = ctx.layout.shapes[0][0]
    found = invert_batch(ctx.pipe, basis, ctx.layout, rank, ctx.scaling * rank, images, "sks person",
                         k=k, steps=INVERSION_STEPS, lr=0.1, progress=False)[:, :k]
    return identity_recovery(found, basis, ctx.table["identity_id"].to_numpy()[rows])


def science_figures(root: Path) -> dict[str, float]:
    """What test_trained_space.py asserts on, as numbers."""
    ctx, basis, directions = open_space(root)
    shifts = edit_shifts(ctx, basis, directions)
    ratio, ranks = inversion_recovery(ctx, basis)
    return {"edit_shift_mean": float(shifts["w2w"].mean()),
            "edit_towards_fraction": float((shifts["w2w"] > 0).mean()),
            "random_shift_mean": float(shifts["random"].mean()),
            "random_towards_fraction": float((shifts["random"] > 0).mean()),
            "inversion_nearer_own_count": int((ratio < 1).sum()),
            "inversion_rank_median": float(np.median(ranks))}
