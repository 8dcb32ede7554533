"""Can a 32 px render, and the base's 8x8 latent of it, show who the person is? (issue 17)

    python studies/trait_legibility.py [--identities N]   # default 64; needs data/base (`dvc repro base`)

For each continuous trait, every identity is rendered at trait -1 and +1 with everything else equal
(the same attributes, other traits and nuisance). The trait's effect is the RMS change it makes, in
grey levels at 32 px and in the base VAE's latent, set against the change that a fresh nuisance draw
makes to the same identity (the noise an adapter must see through) and against two attributes that
the judge reads well. A trait whose latent effect is a small fraction of the nuisance's is invisible
to the base, to the fleet and to any yardstick: it cannot make two people different.

Identities are drawn afresh from the renderer (ids 10**6 upward), so no split of the world is read.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

from w2w.base.latents import encode_images
from w2w.base.pipeline import load_vae
from w2w.world.identity import TRAITS, Identity, sample_identity
from w2w.world.render import render_face, sample_nuisance

DATA = Path("data")
FIRST_ID = 1_000_000
REFERENCE_ATTRIBUTES = ("Eyeglasses", "Young")


def with_trait(identity: Identity, name: str, value: float) -> Identity:
    return dataclasses.replace(identity, traits={**identity.traits, name: value})


def with_attribute(identity: Identity, name: str, value: bool) -> Identity:
    return dataclasses.replace(identity, attributes={**identity.attributes, name: value})


def rms(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(M,) RMS difference of each pair of rows."""
    d = a.reshape(len(a), -1).astype(np.float64) - b.reshape(len(b), -1).astype(np.float64)
    return np.sqrt((d ** 2).mean(1))


def pairs(identities: list[Identity], change, seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Renders (M, S, S, 3) x2 of each identity before and after `change`, one nuisance draw each.
    `change` maps (identity, rng) -> (identity or nuisance pair)."""
    before, after = [], []
    for identity in identities:
        rng = np.random.default_rng([seed, identity.identity_id])
        (ia, na), (ib, nb) = change(identity, rng)
        before.append(render_face(ia, na, size))
        after.append(render_face(ib, nb, size))
    return np.stack(before), np.stack(after)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--identities", type=int, default=64)
    parser.add_argument("--size", type=int, default=32)
    args = parser.parse_args(argv)
    if not (DATA / "base" / "model").is_dir():
        sys.exit("data/base/model: missing; run `dvc repro base` first")
    vae = load_vae(DATA / "base" / "model")
    identities = [sample_identity(FIRST_ID + i, 0) for i in range(args.identities)]

    def nuisance(identity, rng):
        return (identity, sample_nuisance(rng)), (identity, sample_nuisance(rng))

    def scene(identity, rng):  # only what the adapters should ignore and the judge never sees
        n, m = sample_nuisance(rng), sample_nuisance(rng)
        return (identity, n), (identity, dataclasses.replace(
            n, background_top=m.background_top, background_bottom=m.background_bottom, clothes=m.clothes))

    def pose(identity, rng):  # pose, scale, shift, light and smile, with the scene kept
        n, m = sample_nuisance(rng), sample_nuisance(rng)
        return (identity, n), (identity, dataclasses.replace(
            m, background_top=n.background_top, background_bottom=n.background_bottom, clothes=n.clothes))

    def other_identity(identity, rng):
        n = sample_nuisance(rng)
        return (identity, n), (sample_identity(identity.identity_id + args.identities, 0), n)

    def other_traits(identity, rng):  # the person beyond the caption: what a caption cannot give
        n = sample_nuisance(rng)
        other = sample_identity(identity.identity_id + args.identities, 0)
        return (identity, n), (dataclasses.replace(identity, traits=other.traits), n)

    def trait(name):
        def change(identity, rng):
            n = sample_nuisance(rng)
            return (with_trait(identity, name, -1.0), n), (with_trait(identity, name, 1.0), n)
        return change

    def attribute(name):
        def change(identity, rng):
            n = sample_nuisance(rng)
            return (with_attribute(identity, name, False), n), (with_attribute(identity, name, True), n)
        return change

    rows = [("a fresh nuisance draw", nuisance), ("  background and clothes only", scene),
            ("  pose, light and smile only", pose), ("another identity, same nuisance", other_identity),
            ("  same attributes, other traits", other_traits)]
    rows += [(f"attribute {a}", attribute(a)) for a in REFERENCE_ATTRIBUTES]
    rows += [(f"trait {t}", trait(t)) for t in TRAITS]
    measured = {}
    for label, change in rows:
        a, b = pairs(identities, change, seed=5, size=args.size)
        measured[label] = (rms(a, b), rms(encode_images(vae, a), encode_images(vae, b)))
    pixel_ref, latent_ref = (m.mean() for m in measured["a fresh nuisance draw"])
    print(f"{args.identities} identities; RMS change, and as a fraction of a fresh nuisance draw's")
    print(f"{'change':34s} {'pixels (grey levels)':>22s} {'latent':>16s}")
    for label, (pixel, latent) in measured.items():
        print(f"{label:34s} {pixel.mean():8.2f} ({pixel.mean() / pixel_ref:5.2f}) "
              f"{latent.mean():8.3f} ({latent.mean() / latent_ref:5.2f})")


if __name__ == "__main__":
    main(sys.argv[1:])
