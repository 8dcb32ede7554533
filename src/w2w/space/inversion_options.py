"""The options that say how an image is inverted into the space, and their checks: one definition
for `w2w invert` and for each image of `w2w direction`."""

from __future__ import annotations

import argparse


def add_inversion_options(p: argparse.ArgumentParser) -> None:
    """How an image is inverted into the space (`w2w invert`, and each image of `w2w direction`)."""
    p.add_argument("--k", type=int, default=0, help="leading components optimised (0: all)")
    p.add_argument("--steps", type=int, default=200, help="optimisation steps")
    p.add_argument("--lr", type=float, default=None,
                   help="Adam, on coefficients / their train std (default: the evaluation's, chosen on "
                        "validation train identities)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise and timestep draws")
    p.add_argument("--timesteps", type=int, nargs=2, metavar=("LOW", "HIGH"),
                   help="draw the noise timesteps from [LOW, HIGH) (default: all 1000, the reference's); "
                        "the evaluation uses the fleet's finetune.timestep_range")


def check_inversion_steps(args: argparse.Namespace) -> None:
    """`add_inversion_options`' numbers, before any file is read."""
    if args.steps < 1 or (args.lr is not None and args.lr <= 0) or args.k < 0:
        raise ValueError(f"--steps and --lr must be positive and --k >= 0, got {args.steps}, {args.lr}, "
                         f"{args.k}")


def check_timesteps(args: argparse.Namespace) -> None:
    """--timesteps inside the schedule (torch and diffusers are imported: call it once --out is claimed)."""
    from w2w.base.model import SD_SCHEDULE

    total = SD_SCHEDULE["num_train_timesteps"]  # the schedule every base here trains and inverts with
    if args.timesteps is not None and not 0 <= args.timesteps[0] < args.timesteps[1] <= total:
        raise ValueError(f"--timesteps must be LOW HIGH with 0 <= LOW < HIGH <= {total}, got "
                         f"{' '.join(map(str, args.timesteps))}")
