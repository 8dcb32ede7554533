"""Is the trait error's ceiling the renders or the reader? (issue 17)

    python studies/trait_reader.py [--identities N] [VARIANT ...]   # 256 validation ids, all variants

The second yardstick, the trait regressor, recovered an identity's traits from its 8 clean renders
to only about 0.68 population sds (guessing the mean: 0.87) when it was trained on the judge's
renders of the 480 train identities: 480 distinct trait vectors for a 16-dimensional regression, so
it could learn who is who rather than what a trait looks like. The renderer can draw any number of
new people with known traits, so this study trains the same regressor, at the same number of
images and steps, on fresh people instead (`w2w.judge.train.fresh_trait_set`, what the judge stage
now does), and asks which reads unseen people better.

Variants (otherwise the judge section of params.yaml, augmentation and VAE round trips included):
    world        the judge's training set: 480 train identities x 24 renders (the stage until now)
    fresh4       2,880 fresh identities x 4 renders
    fresh1       11,520 fresh identities x 1 render (the stage's)
    fresh1_wide  as fresh1 with the width doubled (more capacity, about 3x the time)
    fresh1_epochs8, fresh1_epochs6   as fresh1 in fewer epochs (the stage's 12): for the time budget

Validation: N (`--identities`) further fresh identities (their own id range), 8 renders each in
a stream nothing trains on; no world identity, train or held-out, is read. Figures: the error of
the mean over an identity's 8 renders (as the judge stage reports it), clean and through the base's
VAE (what every generated sample passes through), with 95 % bootstrap CIs over identities and
paired differences against the first variant named (`world` by default). About 3 minutes a
variant; needs data/base (`dvc repro base`).
"""

from __future__ import annotations

import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from variants import parse_variants  # studies/: the script's folder is first on sys.path

from w2w.base.latents import round_trip
from w2w.base.pipeline import load_vae
from w2w.evaluate.stats import bootstrap_ci
from w2w.judge.model import to_input
from w2w.judge.train import fresh_trait_set, render_training_set, train_traits, with_round_trips
from w2w.params import load_params
from w2w.world.dataset import render_identity
from w2w.world.identity import TRAITS, sample_identity

DATA = Path("data")
VALIDATION_FIRST_ID = 4_000_000  # above every world's ids and the regressor's own (2,000,000 up)
STREAM = 98  # a render stream nothing else draws
IMAGES = 11_520              # the world variant's 480 x 24
VARIANTS = {"world": (0, 24, 1, 0), "fresh4": (IMAGES // 4, 4, 1, 0), "fresh1": (IMAGES, 1, 1, 0),
            "fresh1_wide": (IMAGES, 1, 2, 0),  # name: (fresh identities or 0 for the world's, renders,
            # width x, epochs or 0 for params.yaml's); fewer epochs, for the budget on a slower machine
            "fresh1_epochs8": (IMAGES, 1, 1, 8), "fresh1_epochs6": (IMAGES, 1, 1, 6)}


def errors(net, mean: torch.Tensor, std: torch.Tensor, images: np.ndarray, truth: np.ndarray
           ) -> np.ndarray:
    """(M,) error of each identity's mean prediction over its renders, images (M, n, S, S, 3)."""
    m, n = images.shape[:2]
    with torch.no_grad():
        flat = torch.from_numpy(images.reshape(m * n, *images.shape[2:]))
        pred = torch.cat([net(to_input(flat[i:i + 512])) for i in range(0, len(flat), 512)])
    pred = (pred * std + mean).numpy().reshape(m, n, -1).mean(1)
    return (np.abs(pred - truth) / std.numpy()).mean(1)


def main(argv: list[str]) -> None:
    args = parse_variants(argv, __doc__, VARIANTS, 256)
    names = args.variants
    p = load_params().judge
    vae = partial(round_trip, load_vae(DATA / "base" / "model"))
    size = 32
    val_ids = [sample_identity(VALIDATION_FIRST_ID + i, p.seed) for i in range(args.identities)]
    val = np.stack([render_identity(i, 8, p.seed, STREAM, size) for i in val_ids])
    val_trips = vae(val.reshape(-1, size, size, 3)).reshape(val.shape)
    truth = np.array([[i.traits[t] for t in TRAITS] for i in val_ids])
    results = {}
    for name in names:
        n, renders, widen, epochs = VARIANTS[name]
        start = time.time()
        if n == 0:
            table = pd.read_parquet(DATA / "world" / "identities.parquet")
            data = render_training_set(table, p, size)
        else:
            data = fresh_trait_set(n, p.seed, size, renders)
        data = with_round_trips(data, vae)
        mean, std = data.traits.mean(0), data.traits.std(0)
        net = train_traits(data, mean, std, p.model_copy(update={"width": p.width * widen,
                                                                 "epochs": epochs or p.epochs}))
        results[name] = (errors(net, mean, std, val, truth), errors(net, mean, std, val_trips, truth))
        print(f"{name}: {time.time() - start:.0f} s", flush=True)
    chance = np.abs(np.roll(truth, 1, 0) - truth).mean(1) / (2 / np.sqrt(12))
    print(f"\n{args.identities} fresh validation identities, 8 renders each; error of the mean "
          f"prediction in population sds (guessing a random other identity: {chance.mean():.3f})")
    first = names[0]  # the paired differences are against the first variant named (world by default)
    print(f"{'variant':16s} {'clean':>24s} {'VAE round trip':>24s} {f'vs {first} (clean)':>26s}")
    for name, (clean, trips) in results.items():
        lo, hi = bootstrap_ci(clean)
        tlo, thi = bootstrap_ci(trips)
        row = (f"{name:16s} {clean.mean():.3f} [{lo:.3f}, {hi:.3f}]   "
               f"{trips.mean():.3f} [{tlo:.3f}, {thi:.3f}]")
        if name != first:
            d = clean - results[first][0]
            dlo, dhi = bootstrap_ci(d)
            row += f"   {d.mean():+.3f} [{dlo:+.3f}, {dhi:+.3f}]"
        print(row)


if __name__ == "__main__":
    main(sys.argv[1:])
