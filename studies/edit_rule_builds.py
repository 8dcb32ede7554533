"""Does the edits' strength rule flip as often on new identities as on the ones it chose on? TRAIN
identities only (issue 17).

    python studies/edit_rule_builds.py [--in BUILD] [validation]   # 40; about 8 minutes a build
    python studies/edit_rule_builds.py --regularization 0.001   # directions refitted with another C

The `evaluate_edits` stage picks each attribute's strength as the smallest of its sweep whose flip
rate on 24 selection train identities reaches 0.9, and its held-out flip rate then differs by
build (0.871, 0.758, 0.927 and 0.933 on the seed spread's four). A rule that stops at the first
strength crossing a noisy estimate's threshold keeps the strengths whose estimate happened to
come out high: it is expected to flip less on identities it did not choose on. (It does not, or
barely: 40 further train identities flip as the build's held-out 40 do, within 0.004, and what
differs by build is how far its directions reach at any strength; README, "Seed spread".)

This study sweeps the stage's own selection and `validation` further train identities of the same
seeded order (disjoint from the selection), applies the rule on the selection with several
targets, and reads each one on the validation identities: flip rate, identity kept and other
attributes kept, with 95 % intervals over the validation identities, beside the selection's own
flip rate at the same strengths. `--in` reads another build's folder (e.g.
studies/runs/default-seed1, a copy that `studies/seed_spread.py` made). `--regularization C`
refits the build's directions as the `directions` stage does, with the classifier's C changed:
does another fit reach further? No held-out identity is read and nothing is chosen.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from edit_flips import enter  # studies/: the script's folder is first on sys.path

from w2w.evaluate.context import Context
from w2w.evaluate.edits import Scores, attribute_strengths, sweep, w2w_displacements
from w2w.evaluate.stats import bootstrap_ci
from w2w.params import DirectionsParams, load_params
from w2w.space.attributes import fit_attribute_directions
from w2w.space.basis import Basis
from w2w.space.directions import Directions

TARGETS = (0.9, 0.95, 1.0)  # 1.0: the most flipping strength of each attribute's sweep
FIELDS = ("flip", "identity_similarity", "others_kept", "target_shift")  # Scores' (M, A) fields read


def positive(text: str) -> float:
    """argparse type: a number above 0 (the classifier's C)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("validation", type=int, nargs="?", default=40,
                        help="train identities after the selection to read the rule on (default 40)")
    parser.add_argument("--in", dest="build", type=Path, help="another build's folder to read")
    parser.add_argument("--regularization", type=positive,
                        help="refit the directions with this classifier C instead of the stage's")
    args = parser.parse_args(argv)
    if args.validation < 2:
        parser.error(f"validation: an interval needs at least 2 identities, got {args.validation}")
    return args


def at_strengths(scores: dict[float, Scores], strengths: np.ndarray, rows: slice) -> Scores:
    """Scores of `rows` identities with each attribute j read at strengths[j] ((M, A) fields)."""
    picked = {f: np.stack([getattr(scores[float(s)], f)[rows, j] for j, s in enumerate(strengths)], 1)
              for f in FIELDS}
    return replace(next(iter(scores.values())), images=np.empty(0), trait_change=None, **picked)


def refitted(data: Path, basis: Basis, stage: Directions, p: DirectionsParams, regularization: float
             ) -> Directions:
    """The directions refitted as the directions stage fits them, with the classifier's C changed;
    prints each one's cosine with the stage's."""
    refit = p.model_copy(update={"regularization": regularization})
    new = fit_attribute_directions(data / "world", data / "weights.zarr", basis, refit).directions
    cosines = (new.directions * stage.directions).sum(1) / (
        np.linalg.norm(new.directions, axis=1) * np.linalg.norm(stage.directions, axis=1))
    print("cosine with the stage's directions: " + ", ".join(
        f"{a} {c:.3f}" for a, c in zip(new.attributes, cosines, strict=True)))
    return new


def main() -> None:
    args = parse(sys.argv[1:])
    if args.build is not None:
        enter(args.build)
    data, params = Path("data"), load_params()
    p = params.evaluate_edits
    ctx = Context.open(data / "world", data / "weights.zarr", data / "base", data / "judge")
    basis, directions = Basis.load(data / "basis"), Directions.load(data / "directions")
    if args.regularization is not None:
        directions = refitted(data, basis, directions, params.directions, args.regularization)
    names = [a for a in directions.attributes if a in ctx.judge.attribute_names]
    n_selection = p.selection_identities
    rows = ctx.rows(False, n_selection + args.validation, p.seed)  # the selection, then the rest
    _, results = sweep(ctx, rows, names, {"w2w": w2w_displacements(basis, directions, names)}, p,
                       params.finetune.prompt, {"w2w": p.strengths})
    selection, validation = slice(0, n_selection), slice(n_selection, None)
    chosen_on = {s: replace(sc, **{f: getattr(sc, f)[selection] for f in FIELDS})
                 for s, sc in results["w2w"].items()}
    print(f"build {Path.cwd().name}: {n_selection} selection and {len(rows) - n_selection} validation train "
          f"identities, strengths {p.strengths}, classifier C "
          f"{args.regularization or params.directions.regularization:g}")
    print("| target | strengths | selection flip | validation flip | identity kept | other attributes kept |")
    print("| --- | --- | --- | --- | --- | --- |")
    for target in TARGETS:
        strengths = attribute_strengths(chosen_on, target)
        own, new = at_strengths(results["w2w"], strengths, selection), at_strengths(results["w2w"], strengths,
                                                                                   validation)
        cells = []
        for values in (new.flip.astype(float), new.identity_similarity, new.others_kept):
            lo, hi = bootstrap_ci(values)
            cells.append(f"{values.mean():.3f} [{lo:.3f}, {hi:.3f}]")
        print(f"| {target:g} | {' '.join(f'{s:g}' for s in strengths)} | {own.flip.mean():.3f} | "
              f"{' | '.join(cells)} |", flush=True)
    print("strengths in the order " + ", ".join(names))


if __name__ == "__main__":
    main()
