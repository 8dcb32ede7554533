"""Is the edits' strength chosen where a new identity would need it? TRAIN identities only (issue 17).

    python studies/edit_selection.py [strengths]   # default 2,3,4; about 2 minutes

The edits stage chooses its strengths on train identities (its selection sample) whose adapters
the directions were fitted to, and such identities sit further from each direction's boundary than
new ones (studies/edit_margins.py), so they need a longer push to flip. Is the directions' fit the
cause? (It is not: refitted without them, the selection's curve is the same, 2.87 against 2.88;
the basis, which holds all of a train adapter and 0.79 of a new one, is.) This study refits the
directions, as the directions stage fits them, without the selection's identities, and sweeps the
selection with both: the committed directions (fitted with them, as the stage does) and the
refitted ones (which never saw them, as for a held-out identity). It prints each one's flip and
identity-kept curve against prompting on the same identities, and the strength matched to
prompting's flip rate by the stage's rule. No held-out identity is read and nothing is chosen.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from fleet_fit import difference  # studies/: the script's folder is first on sys.path

from w2w.evaluate.context import Context
from w2w.evaluate.edits import matched_strength, sweep, w2w_displacements
from w2w.params import load_params
from w2w.space.attributes import labels_of
from w2w.space.basis import Basis
from w2w.space.directions import Directions, fit_directions

DATA = Path("data")


def refit_without(ctx: Context, basis: Basis, names: list[str], left_out: np.ndarray) -> Directions:
    """The directions stage's fit on the train coefficients of every train identity but `left_out`."""
    params = load_params()
    train = np.flatnonzero(~ctx.heldout)
    keep = ~np.isin(train, left_out)
    x = basis.train_coefficients
    p = params.directions
    debias = {a: [o for o in rest if o in names] for a, rest in p.debias.items() if a in names}
    directions, _ = fit_directions(x[keep], labels_of(ctx.table, names, train[keep]), x[~keep],
                                   labels_of(ctx.table, names, train[~keep]),
                                   p.model_copy(update={"debias": debias}))
    return directions


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        sys.exit(__doc__)
    try:
        strengths = [float(s) for s in argv[0].split(",")] if argv else [2.0, 3.0, 4.0]
    except ValueError:
        sys.exit(f"strengths must be numbers separated by commas, got {argv[0]!r}")
    params = load_params()
    p = params.evaluate_edits
    ctx = Context.open(DATA / "world", DATA / "weights.zarr", DATA / "base", DATA / "judge")
    basis, committed = Basis.load(DATA / "basis"), Directions.load(DATA / "directions")
    names = [a for a in committed.attributes if a in ctx.judge.attribute_names]
    rows = ctx.rows(False, p.selection_identities, p.seed)                  # the stage's selection
    fits = {"fitted with them (the stage's)": committed,
            "refitted without them": refit_without(ctx, basis, names, rows)}
    print(f"{len(rows)} train identities (the edits stage's selection), strengths {strengths}")
    for label, directions in fits.items():
        _, res = sweep(ctx, rows, names, {"w2w": w2w_displacements(basis, directions, names)}, p,
                       params.finetune.prompt, {"w2w": strengths})
        prompting = res["prompt"][0.0]
        print(f"\ndirections {label}: matched strength {matched_strength(res['w2w'], prompting):g} "
              f"(prompting flips {prompting.flip.mean():.3f}, "
              f"keeps {prompting.identity_similarity.mean():.3f})")
        for s, sc in sorted(res["w2w"].items()):
            print(f"  strength {s:g}: flip {sc.flip.mean():.3f}, "
                  f"identity kept {sc.identity_similarity.mean():.3f} "
                  f"(vs prompting {difference(sc.identity_similarity, prompting.identity_similarity)})",
                  flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
