"""Why held-out identities flip more often than train ones at the same edit strength (issue 17, claim 2).

    python studies/edit_margins.py   # about 20 seconds; train and held-out identities, nothing chosen

The edits stage chooses its strengths on train identities, and at low strengths held-out identities
flip more often there (at 2.88: 0.450 against the 0.343 it aims at). This prints, per set of
identities, where each sits along every attribute's direction (in train stds, from the train
mean), signed towards its own side of the true attribute, the distance between the two classes'
means, averaged over attributes, and the length of the identities' coefficients against the train
identities' (the basis was fitted to the train adapters; what of a new adapter lies outside its span
is lost in the projection); and, for the stage's own selections, how often the judge reads the
unedited models' attributes right (the edits' targets are the opposite of what it reads); 95 %
bootstrap intervals over identities. studies/edit_selection.py shows the directions' own fit is
not the cause: refitted without the stage's selection, they give it the same curve.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from w2w.evaluate.context import Context
from w2w.evaluate.edits import unedited
from w2w.evaluate.stats import bootstrap_ci
from w2w.params import load_params
from w2w.space.basis import Basis
from w2w.space.directions import Directions

DATA = Path("data")


def positions(ctx: Context, basis: Basis, directions: Directions, rows: np.ndarray) -> np.ndarray:
    """(M, A) each identity's coefficients along each direction, in train stds."""
    k = directions.directions.shape[1]
    coefficients = basis.to_coefficients(ctx.adapters(rows))[:, :k]
    return coefficients @ directions.directions.T / directions.scales


def main() -> None:
    params = load_params()
    p = params.evaluate_edits
    ctx = Context.open(DATA / "world", DATA / "weights.zarr", DATA / "base", DATA / "judge")
    basis, directions = Basis.load(DATA / "basis"), Directions.load(DATA / "directions")
    names = directions.attributes
    train_mean = positions(ctx, basis, directions, np.flatnonzero(~ctx.heldout)).mean(0)
    sets = {"train, all": np.flatnonzero(~ctx.heldout),
            "train, the stage's selection": ctx.rows(False, p.selection_identities, p.seed),
            "held-out, all": np.flatnonzero(ctx.heldout),
            "held-out, the stage's": ctx.rows(True, p.identities, p.seed, p.heldout_offset)}
    def length(rows: np.ndarray) -> float:
        return float(np.linalg.norm(basis.to_coefficients(ctx.adapters(rows)), axis=1).mean())

    train_length = length(np.flatnonzero(~ctx.heldout))
    print("| identities | n | own-side position (train stds) | distance between the classes' means "
          "| coefficients' length / train's | unedited models' attributes read right |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, rows in sets.items():
        at = positions(ctx, basis, directions, rows) - train_mean
        truth = ctx.table.iloc[rows][names].to_numpy(bool)
        own_side = np.where(truth, at, -at).mean(1)                                 # (M,)
        both = [j for j in range(len(names)) if truth[:, j].any() and (~truth[:, j]).any()]
        apart = np.mean([at[truth[:, j], j].mean() - at[~truth[:, j], j].mean() for j in both])
        lo, hi = bootstrap_ci(own_side)
        read = ""
        if "stage" in name:  # rendered and judged as the stage does
            judged = unedited(ctx, rows, p, params.finetune.prompt).judged[:, ctx.judge_columns(names)]
            right = (judged == truth).mean(1)
            read = f"{right.mean():.3f} [{bootstrap_ci(right)[0]:.3f}, {bootstrap_ci(right)[1]:.3f}]"
        print(f"| {name} | {len(rows)} | {own_side.mean():.3f} [{lo:.3f}, {hi:.3f}] | {apart:.2f} "
              f"| {length(rows) / train_length:.2f} | {read} |")


if __name__ == "__main__":
    main()
