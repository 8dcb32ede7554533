"""Were the held-out identities ever train identities of an earlier, smaller world?

The split is a seeded permutation of the world's identities, so a world grown from `--before`
identities draws a new held-out set: some of its held-out identities were train identities of the
smaller world, where studies may have chosen operating points on them. This scores the fleet
evaluation's identities (plots/finetune_identities.csv, written by `evaluate_finetune`) in two
groups, those that never were train identities and those that were, so that a choice fitted to the
second group would show as a gap:

    python studies/heldout_history.py                # the world before: 600 identities, a fifth held out
    python studies/heldout_history.py --before 600 --fraction 0.2

With `--against COMMIT` it instead pairs the same identities' scores with those a run committed at
COMMIT wrote (another recipe's fleet, the same held-out identities): the to_v fleet against the
to_q/to_v one before it is `--against cd9b37f`.

Reads only the stage's committed per-identity scores; trains and samples nothing.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from w2w.evaluate.stats import bootstrap_ci, paired_difference_ci, unpaired_difference_ci
from w2w.params import load_params
from w2w.world.identity import split_identities

SCORES = Path("plots/finetune_identities.csv")


def was_train(identity_ids: np.ndarray, before: int, fraction: float, seed: int) -> np.ndarray:
    """(M,) True where the identity was a train identity of the world of `before` identities."""
    heldout_before = split_identities(before, fraction, seed)
    return np.array([i < before and not heldout_before[i] for i in identity_ids])


def paired_against(scores: pd.DataFrame, commit: str) -> None:
    """Each score's mean difference from the same identities' scores at `commit`, paired."""
    shown = subprocess.run(["git", "show", f"{commit}:{SCORES}"], capture_output=True, text=True)
    if shown.returncode:
        sys.exit(f"--against {commit}: no {SCORES} there ({shown.stderr.strip()})")
    before = pd.read_csv(io.StringIO(shown.stdout)).set_index("identity_id")
    missing = sorted(set(scores["identity_id"]) - set(before.index))
    if missing:
        sys.exit(f"--against {commit}: {len(missing)} of the identities are not scored there, "
                 f"e.g. {missing[0]}")
    print(f"{len(scores)} held-out identities, now against {commit} (paired)")
    for column in ("identity_similarity", "trait_error"):
        now, then = scores[column].to_numpy(), before.loc[scores["identity_id"], column].to_numpy()
        lo, hi = paired_difference_ci(now, then)
        print(f"{column}: now {now.mean():.3f}, {commit} {then.mean():.3f}, "
              f"difference {(now - then).mean():+.3f} [{lo:+.3f}, {hi:+.3f}]")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=int, default=600, help="identities of the earlier world")
    parser.add_argument("--fraction", type=float, default=0.2, help="its synthesize.heldout_fraction")
    parser.add_argument("--against", metavar="COMMIT", help="pair the scores with a run committed there")
    args = parser.parse_args(argv)
    if not SCORES.is_file():
        sys.exit(f"{SCORES}: missing; run `dvc repro evaluate_finetune` first")
    if args.against:
        paired_against(pd.read_csv(SCORES), args.against)
        return
    if args.before < 2 or not 0 < args.fraction < 1:
        sys.exit(f"--before must be at least 2 and --fraction in (0, 1), "
                 f"got {args.before} and {args.fraction}")
    scores = pd.read_csv(SCORES)
    train_before = was_train(scores["identity_id"].to_numpy(), args.before, args.fraction,
                             load_params().synthesize.seed)
    print(f"{len(scores)} held-out identities: {train_before.sum()} were train identities of the world of "
          f"{args.before}, {(~train_before).sum()} never were")
    for column in ("identity_similarity", "trait_error"):
        values = scores[column].to_numpy()
        old, never = values[train_before], values[~train_before]
        lo, hi = unpaired_difference_ci(old, never)
        print(f"{column}: never train {never.mean():.3f} {np.round(bootstrap_ci(never), 3).tolist()}, "
              f"train before {old.mean():.3f} {np.round(bootstrap_ci(old), 3).tolist()}, "
              f"difference {old.mean() - never.mean():+.3f} [{lo:+.3f}, {hi:+.3f}]")


if __name__ == "__main__":
    main(sys.argv[1:])
