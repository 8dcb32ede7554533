"""`w2w direction` on the miniature world: a painting direction from two folders, and how far it
carries over to people it was not made from.

    python studies/direction_folders.py [--fit 32] [--check 8] [--out /tmp/w2w-direction]   # about 4 minutes

Train identities only. The first `--fit` + `--check` train identities (in the world's order) each
give two images: their first training render and their painting (drawn as the evaluation draws a
held-out identity's). The first `--fit` go into two folders, renders and paintings, and
`w2w direction Painting --from renders/ --to paintings/ --timesteps 400 1000 --alone` makes the
direction from them, as a user would from their own folders. The other `--check` identities'
images are inverted alike and placed along it: a direction of the way a person is drawn, not of
the fitting people, puts each painting further along than its own render.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from inversion_fit import one_image_inputs  # studies/: the script's folder is first on sys.path
from PIL import Image

from w2w.cli import main as w2w
from w2w.evaluate.context import Context
from w2w.params import load_params

DATA = Path("data")
TIMESTEPS = ["--timesteps", "400", "1000"]  # the evaluation's inversion timesteps (the fleet's)


def write_folders(ctx: Context, rows: np.ndarray, seed: int, out: Path) -> dict[str, Path]:
    """{renders, paintings}: folders of each row's first render and its painting, named by identity."""
    folders = {}
    for setting, images in one_image_inputs(ctx, rows, seed).items():
        folder = folders[setting + "s"] = out / (setting + "s")
        folder.mkdir(parents=True)
        for row, image in zip(rows, images, strict=True):
            Image.fromarray(image).save(folder / f"{int(ctx.table['identity_id'].iloc[row]):05d}.png")
    return folders


def positions(ctx: Context, images: np.ndarray, unit: np.ndarray, scale: float, seed: int) -> np.ndarray:
    """Where each image's inverted model sits along the direction, in strengths from the train mean."""
    from w2w.space.basis import Basis
    from w2w.space.invert import DEFAULT_LR, invert_batch

    basis = Basis.load(DATA / "basis")
    rank = ctx.layout.shapes[0][0]
    found = invert_batch(ctx.pipe, basis, ctx.layout, rank, ctx.scaling * rank, images, "sks person",
                         basis.k, 200, DEFAULT_LR, seed, timestep_range=(400, 1000))
    return (found @ unit - basis.train_coefficients.mean(0) @ unit) / scale


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", type=int, default=32, help="train identities the direction is made from")
    parser.add_argument("--check", type=int, default=8, help="other train identities it is read on")
    parser.add_argument("--out", type=Path, default=Path("/tmp/w2w-direction"), help="a new folder")
    args = parser.parse_args(argv)
    if args.out.exists():
        sys.exit(f"error: {args.out} exists; give a new --out")
    from w2w.space.directions import Directions

    ctx = Context.open(DATA / "world", DATA / "weights.zarr", DATA / "base", DATA / "judge")
    seed = load_params().synthesize.seed
    rows = np.flatnonzero(~ctx.heldout)[:args.fit + args.check]
    folders = write_folders(ctx, rows[:args.fit], seed, args.out)
    if w2w(["direction", "Painting", "--from", str(folders["renders"]), "--to", str(folders["paintings"]),
            *TIMESTEPS, "--alone", "--out", str(args.out / "direction")]) != 0:
        sys.exit("error: w2w direction failed")
    direction = Directions.load(args.out / "direction")
    info = json.loads((args.out / "direction" / "info.json").read_text())
    unit, scale = direction.directions[0], float(direction.scales[0])
    checks = one_image_inputs(ctx, rows[args.fit:], seed)
    placed = {setting: positions(ctx, images, unit, scale, 0) for setting, images in checks.items()}
    further = int((placed["painting"] > placed["render"]).sum())
    print(f"\n{args.fit} fitting identities: renders {np.mean(info['from_positions']):+.2f}, paintings "
          f"{np.mean(info['to_positions']):+.2f}, apart {info['offset']:.2f} (strengths: train stds)")
    print(f"{args.check} other train identities: renders {placed['render'].mean():+.2f}, paintings "
          f"{placed['painting'].mean():+.2f}, apart {(placed['painting'] - placed['render']).mean():.2f}; "
          f"the painting further along in {further} of {args.check} pairs")


if __name__ == "__main__":
    main(sys.argv[1:])
