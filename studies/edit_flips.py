"""Which edits flip: per attribute and direction, on TRAIN identities only (never held-out), at the
edits stage's strengths: by default 12, the 0.9-target one, and 4, which the stage's rule before
the interpolated one matched to prompting (the README's figures; the stage now matches at 2.88).
Needs the default-scale outputs (`dvc repro evaluate_edits`); about 3 minutes.

    python studies/edit_flips.py [identities] [strengths]   # default: 24 identities, strengths 4,12

An edit goes towards the opposite of what the judge sees in the unedited model, as in the edits
stage. It is marked "never drawn" where the world never draws a person of the identity's sex with
the target value (estimated from the world's own attribute sampler: a beard or baldness on a woman),
so no model in the space was trained on such a person. It also says how far the seed decides an
edit: the share of edits whose samples disagree on the target, against what it would be if every
edit flipped each sample with the same chance (the base drawing one or the other from seed to seed)
or with chance 0 or 1 (every seed alike).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from sample_blends import sample_calls  # studies/: the script's folder is first on sys.path

from w2w.evaluate.context import Context
from w2w.evaluate.edits import Scores, Unedited, sweep, w2w_displacements
from w2w.params import load_params
from w2w.space.basis import Basis
from w2w.space.directions import Directions
from w2w.world.identity import sample_attributes

DATA = Path("data")
SEED = 1  # a sample of train identities other than the edits stage's selection (its seed, 0), except
#          in a build whose evaluate_edits.seed is 1 (the seed spread's seed 1, read with --in)


def drawn_rates(draws: int = 20_000) -> dict[bool, dict[str, float]]:
    """P(attribute is True | Male) per sex, from the world's attribute sampler."""
    rng = np.random.default_rng(0)
    people = [sample_attributes(rng) for _ in range(draws)]
    out = {}
    for male in (True, False):
        same = [a for a in people if a["Male"] == male]
        out[male] = {name: float(np.mean([a[name] for a in same])) for name in same[0]}
    return out


def never_drawn(rates: dict[bool, dict[str, float]], male: np.ndarray, attribute: str, target: np.ndarray
                ) -> np.ndarray:
    """(M,) whether the world never draws the identity's sex with `attribute` = target (a change of
    sex itself is always to a person the world draws)."""
    if attribute == "Male":
        return np.zeros(len(male), bool)
    p_true = np.array([rates[bool(m)][attribute] for m in male])
    return np.where(target, p_true == 0, p_true == 1)


def seed_split(ctx: Context, images: np.ndarray, targets: np.ndarray, columns: list[int]
               ) -> tuple[float, float, float]:
    """From edited models' samples (M, A, n, S, S, 3): the share of samples whose target attribute
    flipped, the share of edits whose samples disagree, and that share against what it would be if
    every edit flipped each sample with the same chance (1: the seed decides every edit; 0: each
    edit flips all its samples or none)."""
    n = images.shape[2]
    calls = sample_calls(ctx.judge, images)                 # (M, A, n, all attributes)
    flips = np.stack([calls[:, j, :, c] == targets[:, j, None] for j, c in enumerate(columns)], 1)  # M, A, n
    rate = flips.mean()
    split = (flips.any(2) & ~flips.all(2)).mean()
    chance = 1 - rate ** n - (1 - rate) ** n  # P(disagree) with one chance for every edit
    return float(rate), float(split), float(split / chance) if chance > 0 else float("nan")


def enter(build: Path) -> None:
    """Move into `build` (another build's folder, e.g. a copy that studies/seed_spread.py made under
    studies/runs/) so that its data and params are the ones read; a folder with no built
    directions exits with one line naming it."""
    if not (build / DATA / "directions").is_dir():
        sys.exit(f"--in {build}: no {DATA / 'directions'} there (not a built copy of the project)")
    os.chdir(build)


def enter_build(args: list[str]) -> list[str]:
    """`args` without `--in BUILD`, having entered BUILD (`enter`)."""
    if "--in" not in args:
        return args
    i = args.index("--in")
    if i + 1 >= len(args):
        sys.exit("--in needs a build's folder")
    enter(Path(args[i + 1]))
    return args[:i] + args[i + 2:]


Swept = tuple[Context, np.ndarray, list[str], Unedited, dict[str, dict[float, Scores]], list[float]]


def train_sweep(args: list[str], default: list[float], usage: str) -> Swept:
    """`[identities] [strengths]` parsed (a bad one exits with a line), then w2w at each strength and
    prompting on that many train identities (SEED): the context, rows, attributes, the unedited
    models, every method's scores and the strengths. `--in BUILD` reads another build (enter_build)."""
    args = enter_build(args)
    if len(args) > 2:
        sys.exit(usage)
    try:
        n = int(args[0]) if args else 24
        strengths = [float(s) for s in args[1].split(",")] if len(args) > 1 else default
    except ValueError:
        sys.exit(f"identities must be an integer and strengths numbers separated by commas, got {args}")
    params = load_params()
    ctx = Context.open(DATA / "world", DATA / "weights.zarr", DATA / "base", DATA / "judge")
    basis, directions = Basis.load(DATA / "basis"), Directions.load(DATA / "directions")
    rows = ctx.rows(False, n, SEED)
    names = [a for a in directions.attributes if a in ctx.judge.attribute_names]
    base, results = sweep(ctx, rows, names, {"w2w": w2w_displacements(basis, directions, names)},
                          params.evaluate_edits, params.finetune.prompt, {"w2w": strengths})
    return ctx, rows, names, base, results, strengths


def main() -> None:
    ctx, rows, names, base, results, strengths = train_sweep(sys.argv[1:], [4.0, 12.0], __doc__)
    targets = ~base.judged[:, ctx.judge_columns(names)]                         # (M, A)
    male, rates = ctx.table["Male"].to_numpy(bool)[rows], drawn_rates()
    impossible = np.stack([never_drawn(rates, male, a, targets[:, j]) for j, a in enumerate(names)], 1)
    print(f"{len(rows)} train identities; edits to a person the world never draws: {int(impossible.sum())} "
          f"of {impossible.size}; prompting flips {results['prompt'][0.0].flip.mean():.3f}")
    columns = ctx.judge_columns(names)
    for label, images in [(f"w2w at {s:g}", results["w2w"][s].images) for s in strengths] + [
            ("prompting", results["prompt"][0.0].images)]:
        rate, split, ratio = seed_split(ctx, images, targets, columns)
        print(f"seeds of one edit, {label}: samples flipped {rate:.3f}, edits whose samples disagree "
              f"{split:.3f}, {ratio:.2f} of what one chance for every edit would give", flush=True)
    for s in strengths:
        flip = results["w2w"][s].flip
        print(f"strength {s:g}: flip {flip.mean():.3f}, {flip[~impossible].mean():.3f} of the edits to people"
              f" the world draws, {flip[impossible].mean():.3f} of the others")
        for j, a in enumerate(names):
            cells = []
            for label, pick in (("to True", targets[:, j] & ~impossible[:, j]),
                                ("to False", ~targets[:, j] & ~impossible[:, j]),
                                ("never drawn", impossible[:, j])):
                if pick.any():
                    cells.append(f"{label} {flip[pick, j].mean():.2f} (n={int(pick.sum())})")
            print(f"  {a:12s} " + ", ".join(cells), flush=True)


if __name__ == "__main__":
    main()
