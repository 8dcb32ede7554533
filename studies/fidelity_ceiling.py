"""What base prompt fidelity would the world's own renders score? (issue 17)

    python studies/fidelity_ceiling.py [--identities N]   # N fresh people (600), under a minute

`evaluate_base` calls a sample faithful when the judge reads every attribute its caption names
(sex, age and each attribute mentioned) as named, one sample at a time. This study scores true
renders by the same rule (`w2w.evaluate.base.named_hits`): N people drawn afresh by the world's
own sampler (ids no split uses), 4 renders each as the stage draws 4 samples per caption, clean
and through the base's VAE as every generated sample is. No model is read, and no world identity,
train or held-out. Figures: the fraction of renders with every named attribute read right (95 %
bootstrap CI over people), and how often each named attribute is misread when it is named. Then
the judge's cut of 0.5 against per-attribute cuts chosen on half of the people (the best balanced
accuracy), scored on the other half. Read by the judge's own attribute head and, where the judge
has one, by its attribute reader (what the stage reads with).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from w2w.base.latents import round_trip
from w2w.base.pipeline import load_vae
from w2w.evaluate.base import named_hits
from w2w.evaluate.stats import bootstrap_ci
from w2w.judge.api import Judge
from w2w.params import load_params
from w2w.world.dataset import render_identities
from w2w.world.identity import sample_identity

DATA = Path("data")
FIRST_ID = 5_000_000  # the same fresh people as studies/direction_auc.py
STREAM = 97
RENDERS = 4           # evaluate_base.samples_per_prompt


def fidelity(judge: Judge, people: list, probabilities: np.ndarray, thresholds: np.ndarray | float = 0.5
             ) -> tuple[np.ndarray, dict[str, float]]:
    """(N, RENDERS) whether each render has every named attribute read right, and each named
    attribute's miss rate over the renders that name it; probabilities (N * RENDERS, A)."""
    judged = (probabilities > thresholds).reshape(len(people), RENDERS, -1)
    column = {a: j for j, a in enumerate(judge.attribute_names)}
    right = np.ones((len(people), RENDERS), dtype=bool)
    misses: dict[str, list[bool]] = {}
    for i, person in enumerate(people):
        named = {a: person.attributes[a] for a in judge.attribute_names}
        for k in range(RENDERS):
            for name, hit in named_hits(judged[i, k], named, column).items():
                right[i, k] &= hit
                misses.setdefault(name, []).append(not hit)
    return right, {a: float(np.mean(m)) for a, m in misses.items()}


def balanced_thresholds(judge: Judge, people: list, probabilities: np.ndarray) -> np.ndarray:
    """(A,) per attribute, the probability cut with the best balanced accuracy on these renders."""
    truth = np.repeat([[p.attributes[a] for a in judge.attribute_names] for p in people], RENDERS, 0)
    cuts = np.linspace(0.02, 0.98, 49)
    best = []
    for j in range(truth.shape[1]):
        y, q = truth[:, j], probabilities[:, j]
        score = [(np.mean(q[y] > c) + np.mean(q[~y] <= c)) / 2 for c in cuts]
        best.append(cuts[int(np.argmax(score))])
    return np.array(best)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--identities", type=int, default=600)
    args = parser.parse_args(argv)
    if not (DATA / "judge").is_dir() or not (DATA / "base" / "model").is_dir():
        sys.exit("data/judge or data/base/model: missing; run `dvc repro judge base` first")
    judge = Judge.load(DATA / "judge")
    seed = load_params().synthesize.seed
    people = [sample_identity(FIRST_ID + i, seed) for i in range(args.identities)]
    size = judge.config["image_size"]
    renders = render_identities(people, RENDERS, seed, STREAM, size, desc="fresh renders")
    renders = renders.reshape(-1, size, size, 3)
    trips = round_trip(load_vae(DATA / "base" / "model"), renders)
    heads = [("the judge's own head", judge.own_head())] + ([("the attribute reader", judge)]
                                                            if judge.has_attribute_reader else [])
    for head, reading in heads:  # the stage reads with the reader where the judge has one
        print(f"\n{args.identities} fresh people, {RENDERS} renders each, read one render at a time "
              f"by {head}")
        for label, images in (("clean", renders), ("through the VAE", trips)):
            right, misses = fidelity(judge, people, reading.attribute_probabilities(images))
            report(label, right, misses)
        # A cut of 0.5 misses rare attributes; would per-attribute cuts, chosen on one half of the
        # people (balanced accuracy), read the other half's renders right?
        half = len(people) // 2
        probs = reading.attribute_probabilities(trips)
        cuts = balanced_thresholds(judge, people[:half], probs[:half * RENDERS])
        print("per-attribute cuts chosen on the first half: " + ", ".join(
            f"{a} {c:.2f}" for a, c in zip(judge.attribute_names, cuts, strict=True) if c != 0.5))
        for label, c in (("second half, through the VAE, cut 0.5", 0.5),
                         ("the same, per-attribute cuts", cuts)):
            report(label, *fidelity(judge, people[half:], probs[half * RENDERS:], c))


def report(label: str, right: np.ndarray, misses: dict[str, float]) -> None:
    lo, hi = bootstrap_ci(right)
    worst = sorted(misses, key=misses.get, reverse=True)[:6]
    print(f"{label}: every named attribute right {right.mean():.3f} [{lo:.3f}, {hi:.3f}]; misread when "
          "named: " + ", ".join(f"{a} {misses[a]:.3f}" for a in worst))


if __name__ == "__main__":
    main(sys.argv[1:])
