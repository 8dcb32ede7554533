"""Where the directions' AUC stops short of 0.95 (issue 17): the world's pixels, the adapters, or
the classifier? On TRAIN identities only (5-fold cross-validation) and on fresh people; no held-out
identity is read. Needs the default-scale outputs (`dvc repro directions`); about 2 minutes.

    python studies/direction_auc.py [--identities N]   # N fresh people for the render rung (600)

Rungs, per attribute, each an AUC with a 95 % bootstrap CI over identities:
    renders        the judge's mean attribute probability over 8 renders of each of N fresh people
                   (identities drawn by the world's own sampler above every id it uses), clean and
                   through the base's VAE as every generated image is: how legible the attribute
                   is in the pixels to a reader trained on 11,880 labelled renders; by the judge's
                   own head, and by its attribute reader where it has one
    image control  the directions stage's control (a logistic classifier on each identity's
                   standardised mean training latent), cross-validated on the train identities
    coefficients   the stage's classifier on the train identities' PCA coefficients, at logistic
                   C = 0.001, 0.01 (the default), 0.1 and 1, and the reference's least squares
    fewer ids      C = 0.01 on a quarter and a half of each fold's training identities: whether
                   more identities would buy AUC
For the attribute the judge reads worst from clean renders, its AUC within thirds of each trait's
range says what in the drawing hides it.
Out-of-fold scores are pooled over the 5 folds before the AUC is taken.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import zarr
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from w2w.base.latents import round_trip
from w2w.base.pipeline import load_vae
from w2w.evaluate.directions import mean_latents
from w2w.evaluate.stats import auc_ci
from w2w.judge.api import Judge
from w2w.params import load_params
from w2w.space.basis import Basis
from w2w.space.directions import heldout_scores
from w2w.world.dataset import render_identities
from w2w.world.identity import sample_identity

DATA = Path("data")
FRESH_FIRST_ID = 5_000_000  # above every world's ids, the regressor's (2,000,000 up) and trait_reader's
STREAM = 97                 # a render stream nothing else draws
FOLDS = 5


def auc_with_ci(y: np.ndarray, score: np.ndarray) -> tuple[float, float, float]:
    return (float(roc_auc_score(y, score)), *auc_ci(y, score))


def out_of_fold(x: np.ndarray, y: np.ndarray, p, keep: float = 1.0, standardise: bool = False
                ) -> np.ndarray:
    """(n,) each identity's score from a classifier fitted on the other folds (a `keep` fraction
    of them, a seeded subset)."""
    scores = np.zeros(len(y))
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(x, y)
    for k, (fit_rows, test_rows) in enumerate(folds):
        if keep < 1:
            rng = np.random.default_rng(k)
            fit_rows = rng.choice(fit_rows, round(keep * len(fit_rows)), replace=False)
        scores[test_rows] = heldout_scores(x[fit_rows], {"y": y[fit_rows]}, x[test_rows], p, standardise)["y"]
    return scores


def render_rungs(judge: Judge, names: list[str], n: int, seed: int) -> dict[str, dict[str, tuple]]:
    """AUC of the judge's mean probability over 8 renders of n fresh people, clean and through the
    base's VAE, by its own head and by its attribute reader where it has one."""
    people = [sample_identity(FRESH_FIRST_ID + i, seed) for i in range(n)]
    size = judge.config["image_size"]
    renders = render_identities(people, 8, seed, STREAM, size, desc="fresh renders")
    renders = renders.reshape(-1, size, size, 3)
    trips = round_trip(load_vae(DATA / "base" / "model"), renders)
    col = {a: j for j, a in enumerate(judge.attribute_names)}
    truth = {a: np.array([q.attributes[a] for q in people]) for a in names}
    out = {}
    readers = [("judge", judge.own_head())] + ([("attribute reader", judge)]
                                               if judge.has_attribute_reader else [])
    for reader, reading in readers:
        for label, images in ((f"renders, clean ({reader}, fresh people)", renders),
                              (f"renders, VAE round trip ({reader}, fresh people)", trips)):
            probs = reading.attribute_probabilities(images).reshape(n, 8, -1).mean(1)
            out[label] = {a: auc_with_ci(truth[a], probs[:, col[a]]) for a in names}
            if label.startswith("renders, clean"):
                hardest = min(names, key=lambda a: out[label][a][0])
                by_trait(people, truth[hardest], probs[:, col[hardest]], f"{hardest} ({reader})")
    return out


def by_trait(people: list, y: np.ndarray, score: np.ndarray, attribute: str, shown: int = 4) -> None:
    """What hides the hardest attribute: its AUC on clean renders within each third of a trait's
    range (traits are uniform on [-1, 1]), the traits with the widest spread first."""
    rows = []
    for trait in people[0].traits:
        v = np.array([q.traits[trait] for q in people])
        thirds = [(v >= lo) & (v < hi) for lo, hi in ((-1, -1 / 3), (-1 / 3, 1 / 3), (1 / 3, 1.01))]
        rows.append((trait, [roc_auc_score(y[t], score[t]) for t in thirds]))
    rows.sort(key=lambda r: min(r[1]) - max(r[1]))
    print(f"{attribute} on clean renders, AUC by third of each trait (low / middle / high):")
    for trait, aucs in rows[:shown]:
        print(f"  {trait}: " + " / ".join(f"{a:.3f}" for a in aucs))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--identities", type=int, default=600)
    args = parser.parse_args(argv)
    params = load_params()
    table = pd.read_parquet(DATA / "world" / "identities.parquet")
    group = zarr.open_group(DATA / "weights.zarr", mode="r")
    train = np.flatnonzero(~np.asarray(group["heldout"][:]))
    basis = Basis.load(DATA / "basis")
    if not np.array_equal(basis.train_identity_ids, np.asarray(group["identity_ids"][:])[train]):
        sys.exit("data/basis is not the basis of data/weights.zarr's train rows; run `dvc repro pca`")
    coefficients = basis.train_coefficients  # (660, 659) at default scale
    images = mean_latents(DATA / "base")[train]
    judge = Judge.load(DATA / "judge")
    names = [a for a in judge.attribute_names if 0 < table[a].to_numpy()[train].sum() < len(train)]
    p = params.directions
    rungs = render_rungs(judge, names, args.identities, params.synthesize.seed)
    settings = [("image control, C 0.01", dict(x=images, standardise=True), {}),
                *[(f"coefficients, C {c:g}", dict(x=coefficients), {"regularization": c})
                  for c in (0.001, 0.01, 0.1, 1.0)],
                ("coefficients, least squares", dict(x=coefficients), {"method": "least_squares"}),
                ("coefficients, C 0.01, 1/4 of ids", dict(x=coefficients, keep=0.25), {}),
                ("coefficients, C 0.01, 1/2 of ids", dict(x=coefficients, keep=0.5), {})]
    for label, data, change in settings:
        q = p.model_copy(update=change)
        rungs[label] = {}
        for a in names:
            y = table[a].to_numpy(dtype=bool)[train]
            rungs[label][a] = auc_with_ci(y, out_of_fold(data["x"], y, q, data.get("keep", 1.0),
                                                    data.get("standardise", False)))
        print(f"{label}: done", flush=True)
    report(rungs, names, len(train), args.identities)


def report(rungs: dict[str, dict[str, tuple]], names: list[str], train: int, fresh: int) -> None:
    """One row per rung: the four hardest attributes (by the stage's classifier) with CIs, then the
    lowest and the mean over all."""
    print(f"\nAUC [95 % CI]: {train} train identities cross-validated ({FOLDS} folds); the renders "
          f"rung: {fresh} fresh people")
    hardest = sorted(names, key=lambda a: rungs["coefficients, C 0.01"][a][0])[:4]
    print("| rung | " + " | ".join(hardest) + " | lowest | mean |")
    print("| --- " * (len(hardest) + 3) + "|")
    for label, auc in rungs.items():
        cells = [f"{auc[a][0]:.3f} [{auc[a][1]:.3f}, {auc[a][2]:.3f}]" for a in hardest]
        low = min(names, key=lambda a: auc[a][0])
        mean = np.mean([auc[a][0] for a in names])
        print(f"| {label} | " + " | ".join(cells) + f" | {auc[low][0]:.3f} ({low}) | {mean:.3f} |")

if __name__ == "__main__":
    main(sys.argv[1:])
