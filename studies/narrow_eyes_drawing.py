"""Could the world draw narrow eyes legibly without hiding the iris's hue? (issue 17)

    python studies/narrow_eyes_drawing.py [--identities N] [VARIANT ...]   # about 2 minutes a variant

Narrow_Eyes is the attribute the judge reads worst from renders (studies/direction_auc.py: 0.906
from 8 renders of a new person through the VAE), and a dark iris hides it: at 32 px the open
eye's iris covers most of its white, much like the dark slit drawn for narrow eyes. Each variant
redraws only the eyes, by intercepting the renderer's two eye strokes (the open eye's iris disc and
the narrow eye's slit) while everything else is drawn as the world draws it:
    world        as drawn: iris radius 0.024 of the image side, narrow eyes a dark slit
    sliver       narrow eyes a sliver of open eye: white 0.012 high, with the iris across it
    small_iris   open eyes with an iris of radius 0.017, more of the white showing
    both         the two together
    judge_set    as drawn, but the reader trained on the judge's own training renders (the 660
                 train identities, 18 renders each): is it the judge's data or its network?
For each, a reader (the trait regressor's network, regressing the 13 attributes as 0/1 and the 16
traits together) is trained on one render each of N fresh people drawn in that variant, half of
them through the base's VAE as the judge trains, and read on 400 other fresh people, 8 renders each
through the VAE: the AUC of each attribute from the mean over 8, and each trait's error of the mean
in population sds (iris_hue is the one the iris carries). On the world's own drawing the judge reads
the same renders too, to tell the reader's limits from the pixels'. No world identity is read; the
world, its models and every stage are unchanged.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score
from variants import parse_variants  # studies/: the script's folder is first on sys.path

from w2w.base.latents import round_trip
from w2w.base.pipeline import load_vae
from w2w.evaluate.stats import DRAWS, auc_ci, bootstrap_ci, paired_difference_ci
from w2w.judge.api import Judge
from w2w.judge.model import to_input
from w2w.judge.train import TrainingSet, train_traits, with_round_trips
from w2w.params import load_params
from w2w.storage import STREAM_JUDGE
from w2w.world import render
from w2w.world.dataset import identities_from_table, render_identities
from w2w.world.identity import ATTRIBUTES, TRAITS, sample_identity

DATA = Path("data")
TRAIN_FIRST_ID, TEST_FIRST_ID = 6_000_000, 7_000_000  # fresh people no world or study uses
STREAM = 96
WORLD_IRIS, SLIT_WIDTH = 0.024, 0.014  # what render._draw_features draws
VARIANTS = {"world": (WORLD_IRIS, False), "sliver": (WORLD_IRIS, True),
            "small_iris": (0.017, False), "both": (0.017, True),
            "judge_set": (WORLD_IRIS, False)}  # name: (iris radius, narrow as a sliver)


class EyeCanvas:
    """The renderer's canvas with its two eye strokes redrawn; every other stroke passes through."""

    def __init__(self, canvas, iris: float, sliver: bool, iris_rgb: tuple[int, ...]):
        self.canvas, self.iris, self.sliver, self.iris_rgb = canvas, iris, sliver, iris_rgb

    def __getattr__(self, name: str):
        return getattr(self.canvas, name)

    def ellipse(self, cx, cy, rx, ry, fill=None, outline=None, width=0.0) -> None:
        if rx == ry == WORLD_IRIS and fill is not None:  # the open eye's iris disc
            rx = ry = self.iris
        self.canvas.ellipse(cx, cy, rx, ry, fill=fill, outline=outline, width=width)

    def line(self, points, fill, width: float) -> None:
        if self.sliver and width == SLIT_WIDTH and fill == (40, 30, 30):  # the narrow eye's slit
            (x0, y), (x1, _) = points
            cx, half = (x0 + x1) / 2, (x1 - x0) / 2
            self.canvas.ellipse(cx, y, half, 0.012, fill=(250, 250, 250))
            self.canvas.ellipse(cx, y, min(self.iris, half), 0.012, fill=self.iris_rgb)
            return
        self.canvas.line(points, fill, width)


def drawing(iris: float, sliver: bool):
    """render._draw_features with the eyes redrawn (the iris hue computed as the renderer does)."""
    original = render._draw_features

    def draw(c, identity, nuisance, g) -> None:
        hue = render._lerp((40, 120, 210), (80, 45, 20), (identity.traits["iris_hue"] + 1) / 2)
        original(EyeCanvas(c, iris, sliver, hue), identity, nuisance, g)

    return draw


def reader_set(people: list, renders: np.ndarray, n: int) -> TrainingSet:
    """Attributes (0/1) and traits as one regression target, n renders each."""
    target = torch.tensor([[float(q.attributes[a]) for a in ATTRIBUTES] + [q.traits[t] for t in TRAITS]
                           for q in people], dtype=torch.float32)
    labels = torch.arange(len(people)).repeat_interleave(n)
    return TrainingSet(torch.from_numpy(renders.reshape(-1, *renders.shape[2:])), labels,
                       torch.zeros(len(labels), 0), target[labels])


def read(net, mean: torch.Tensor, std: torch.Tensor, images: np.ndarray) -> np.ndarray:
    """(M, outputs) the reader's mean prediction over each person's renders, images (M, n, S, S, 3)."""
    m, n = images.shape[:2]
    flat = torch.from_numpy(images.reshape(m * n, *images.shape[2:]))
    with torch.no_grad():
        out = torch.cat([net(to_input(flat[i:i + 512])) for i in range(0, len(flat), 512)])
    return (out * std + mean).numpy().reshape(m, n, -1).mean(1)


def measure(name: str, train_people: list, test_people: list, vae, p, size: int, seed: int) -> dict:
    n = 1
    if name == "judge_set":  # the judge's training images: render_training_set's identities and stream
        table = pd.read_parquet(DATA / "world" / "identities.parquet")
        train_people, n = identities_from_table(table[table["split"] == "train"]), p.renders_per_identity
    with mock.patch.object(render, "_draw_features", drawing(*VARIANTS[name])):
        train = render_identities(train_people, n, p.seed if name == "judge_set" else seed,
                                  STREAM_JUDGE if name == "judge_set" else STREAM, size, desc=f"{name} train")
        test = render_identities(test_people, 8, seed, STREAM + 1, size, desc=f"{name} test")
    data = with_round_trips(reader_set(train_people, train, n), vae)
    mean, std = data.traits.mean(0), data.traits.std(0)
    net = train_traits(data, mean, std, p)
    trips = vae(test.reshape(-1, size, size, 3)).reshape(test.shape)
    pred = read(net, mean, std, trips)
    a = len(ATTRIBUTES)
    truth_attrs = np.array([[q.attributes[x] for x in ATTRIBUTES] for q in test_people])
    truth_traits = np.array([[q.traits[t] for t in TRAITS] for q in test_people])
    auc = {x: roc_auc_score(truth_attrs[:, j], pred[:, j]) for j, x in enumerate(ATTRIBUTES)
           if 0 < truth_attrs[:, j].sum() < len(test_people)}
    error = np.abs(pred[:, a:] - truth_traits) / std[a:].numpy()     # (M, T) population sds
    narrow = truth_attrs[:, ATTRIBUTES.index("Narrow_Eyes")]
    out = {"auc": auc, "narrow": (narrow, pred[:, ATTRIBUTES.index("Narrow_Eyes")]),
           "narrow_ci": auc_ci(narrow, pred[:, ATTRIBUTES.index("Narrow_Eyes")]),
           "iris": error[:, TRAITS.index("iris_hue")], "trait_error": error.mean(1)}
    if name == "world":  # the judge on the same renders: is it the reader or the pixels?
        judge = Judge.load(DATA / "judge")
        probs = judge.attribute_probabilities(trips.reshape(-1, size, size, 3)).reshape(*test.shape[:2], -1)
        probs = probs.mean(1)
        out["judge_auc"] = {x: roc_auc_score(truth_attrs[:, ATTRIBUTES.index(x)], probs[:, j])
                            for j, x in enumerate(judge.attribute_names) if x in auc}
    return out


def paired_auc_difference(y: np.ndarray, a: np.ndarray, b: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """95 % interval of AUC(a) - AUC(b), two readings of the same people resampled together."""
    rng, diffs = np.random.default_rng(seed), []
    while len(diffs) < DRAWS:
        pick = rng.integers(0, len(y), len(y))
        if 0 < y[pick].sum() < len(pick):
            diffs.append(roc_auc_score(y[pick], a[pick]) - roc_auc_score(y[pick], b[pick]))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return float(lo), float(hi)


def main(argv: list[str]) -> None:
    args = parse_variants(argv, __doc__, VARIANTS, 4000)
    params = load_params()
    p = params.judge.model_copy(update={"epochs": 8})
    seed, size = params.synthesize.seed, 32
    vae = partial(round_trip, load_vae(DATA / "base" / "model"))
    train_people = [sample_identity(TRAIN_FIRST_ID + i, seed) for i in range(args.identities)]
    test_people = [sample_identity(TEST_FIRST_ID + i, seed) for i in range(400)]
    results = {name: measure(name, train_people, test_people, vae, p, size, seed) for name in args.variants}
    print(f"\nA reader trained on {args.identities} fresh people (one render each, 8 epochs), read on 400 "
          "others (8 renders each, through the VAE); [95 % CI] over the 400")
    if "world" in results and "judge_auc" in results["world"]:
        judged, mine = results["world"]["judge_auc"], results["world"]["auc"]
        print("world renders, AUC by the judge / by this reader: " + ", ".join(
            f"{x} {judged[x]:.3f} / {mine[x]:.3f}" for x in sorted(judged, key=judged.get)[:4]))
    print("| variant | Narrow_Eyes AUC | vs world, paired | lowest other attribute | iris_hue error "
          "| vs world, paired | trait error |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, r in results.items():
        others = {x: v for x, v in r["auc"].items() if x != "Narrow_Eyes"}
        low = min(others, key=others.get)
        lo, hi = r["narrow_ci"]
        ilo, ihi = bootstrap_ci(r["iris"])
        tlo, thi = bootstrap_ci(r["trait_error"])
        vs_auc = vs_iris = ""
        if "world" in results and name != "world":
            world = results["world"]
            dlo, dhi = paired_auc_difference(r["narrow"][0], r["narrow"][1], world["narrow"][1])
            vs_auc = f"{r['auc']['Narrow_Eyes'] - world['auc']['Narrow_Eyes']:+.3f} [{dlo:+.3f}, {dhi:+.3f}]"
            elo, ehi = paired_difference_ci(r["iris"], world["iris"])
            vs_iris = f"{(r['iris'] - world['iris']).mean():+.3f} [{elo:+.3f}, {ehi:+.3f}]"
        print(f"| {name} | {r['auc']['Narrow_Eyes']:.3f} [{lo:.3f}, {hi:.3f}] | {vs_auc} | {others[low]:.3f} "
              f"({low}) | {r['iris'].mean():.3f} [{ilo:.3f}, {ihi:.3f}] | {vs_iris} | "
              f"{r['trait_error'].mean():.3f} [{tlo:.3f}, {thi:.3f}] |")

if __name__ == "__main__":
    main(sys.argv[1:])
