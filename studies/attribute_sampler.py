"""Attributes first, then a blend of people who share them: a sampler whose models hold one person.
Are they consistent across seeds, and are they new people?

    python studies/attribute_sampler.py [--people 4,6,8,12,16] [--snapped 12]   # needs the default run's
                                                               # outputs (dvc repro pca); about 4 minutes

Train identities only. `sample_blends.py` found that the space's Gaussian sampler fails claim 1 here
by mixing attribute states (half a beard), while a blend of train people who share all 13
attributes, their displacements from the mean added and divided by sqrt(n), is as consistent as a
trained model. This study asks the other half of claim 1 of such a sampler: is a blend a new
person, or is it one of the people it was made from?

Split (train identities in a seeded order): 32 left out of the gallery and 32 in it calibrate the
novelty threshold exactly as `evaluate_sampling` does; 64 further train identities are left out of
the gallery too; they are new to the gallery but not to the judge, which trained on every train
identity's renders, so 32 + 64 people the renderer draws afresh (`inversion_space.py`'s, trained
once by the fleet's recipe and shared) stand in for new people (the held-out control, which this
study must not read), calibrating a second threshold and scored as a control;
64 of the gallery are the seen control; the gallery is every other train identity. A blend of n is
made from the gallery alone, as `w2w.space.alike` makes one from the basis's train identities: a
random gallery identity (so attribute combinations come at the train set's rates), it and the n - 1
gallery identities with the fewest attributes different from its own, displacements from the
gallery's mean adapter added and divided by sqrt(n). The space's own sampler (the committed basis,
all components) is measured beside it.

For each kind of model, 64 models sampled as evaluate_sampling samples them: consistency across
seeds (against the seen control's, unpaired), the trait regressor's spread across seeds, the
similarity to the nearest gallery identity (the novelty score), the share called novel by the
calibrated threshold, and for blends the similarity to the nearest of the people blended and the
trait error against their mean traits (is the blend a person between them?), beside the same against
another blend's people.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from ambiguous_input import train_people  # studies/ is on sys.path
from sample_blends import sample_calls, sampled_as_evaluated, trait_spread  # studies/ is on sys.path

from w2w.evaluate.context import Context
from w2w.evaluate.judged import mean_embeddings, trait_errors, truth_of
from w2w.evaluate.sampling import consistency, identity_embeddings, nearest_similarity, novelty_threshold
from w2w.evaluate.stats import bootstrap_ci, unpaired_difference_ci
from w2w.params import load_params
from w2w.space.alike import alike_groups, attribute_labels, blend
from w2w.space.basis import Basis
from w2w.space.edit import sample
from w2w.world.identity import sample_identity

DATA = Path("data")
FRESH = Path("studies/runs/inversion_space/fresh")  # inversion_space.py's fresh people, shared
FRESH_FIRST_ID = 5_000_000  # space_size.py's: above every world's ids


def blend_people(ctx: Context, gallery: np.ndarray, n_models: int, people: int, seed: int,
                 snap: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """n_models blends (M, D) as `w2w.space.alike` draws them, of gallery rows' adapters, and the
    blended rows (M, people); with `snap` > 0 each blend's attributes `snap_attributes`ed to its
    first person's states at snap times the state's mean."""
    adapters = ctx.adapters(gallery).astype(np.float64)                          # (G, D)
    labels = attribute_labels(ctx.table, ctx.table["identity_id"].to_numpy()[gallery])   # (G, A)
    groups = alike_groups(labels, n_models, people, seed)                        # (M, people) into gallery
    alike = (labels[groups[:, 1:]] == labels[groups[:, :1]]).all((1, 2)).sum()
    print(f"blends of {people}: {alike} of {n_models} groups alike in every attribute", flush=True)
    made = blend(adapters, groups)
    if snap:
        made = snap_attributes(adapters, labels, made, groups[:, 0], snap)
    return made.astype(np.float32), gallery[groups]


def snap_attributes(gallery_adapters: np.ndarray, labels: np.ndarray, blends: np.ndarray, first: np.ndarray,
                    strength: float) -> np.ndarray:
    """Blends (M, D) moved the least distance, in the gallery's standardised adapter space, that puts
    each attribute's content (along its mean-difference direction) at `strength` times the mean of
    the gallery people in the first person's state: where a group's people differ in an attribute
    its blend half holds each state, which the base then draws one way or the other from seed to
    seed. gallery_adapters (G, D), labels (G, A) bool, first (M,) the gallery rows whose states
    each blend takes. strength sqrt(n) is what a blend of n people alike in every attribute holds."""
    mean, sd = gallery_adapters.mean(0), gallery_adapters.std(0) + 1e-12
    z = (gallery_adapters - mean) / sd                                           # (G, D), centred
    on = np.stack([z[labels[:, a]].mean(0) for a in range(labels.shape[1])])     # (A, D)
    off = np.stack([z[~labels[:, a]].mean(0) for a in range(labels.shape[1])])   # (A, D)
    u = on - off
    u /= np.linalg.norm(u, axis=1, keepdims=True)                                # (A, D) unit directions
    state_means = np.where(labels[first], (on * u).sum(1), (off * u).sum(1))     # (M, A)
    x = (blends - mean) / sd                                                     # (M, D)
    short = strength * state_means - x @ u.T                                     # (M, A)
    x = x + short @ np.linalg.solve(u @ u.T, u)                                  # now x @ u.T = target
    return (x * sd + mean).astype(np.float32)


def summary(name: str, values: np.ndarray) -> str:
    lo, hi = bootstrap_ci(values)
    return f"{name} {values.mean():.3f} [{lo:.3f}, {hi:.3f}]"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", default="4,6,8,12,16", help="comma-separated blend sizes")
    parser.add_argument("--snapped", default="",
                        help="comma-separated blend sizes also made with their attributes snapped to the "
                             "first person's states, at sqrt(n) and at 1 times a state's mean")
    args = parser.parse_args(argv)
    ctx = Context.open(DATA / "world", DATA / "weights.zarr", DATA / "base", DATA / "judge")
    params = load_params()
    p = params.evaluate_sampling
    m, c = p.trained_models, p.calibration_models
    order = ctx.rows(False, int((~ctx.heldout).sum()), p.seed)  # every train row, seeded order
    left_out, seen_in = order[:c], order[c:2 * c]
    new_people, seen = order[2 * c:2 * c + m], order[2 * c + m:2 * c + 2 * m]
    gallery = np.sort(order[~np.isin(order, np.r_[left_out, new_people])])
    print(f"gallery {len(gallery)} train identities; {len(new_people)} new people left out of it",
          flush=True)
    embeddings = identity_embeddings(ctx, gallery)                                # (G, E)

    def rendered(adapters: np.ndarray, desc: str) -> np.ndarray:
        return sampled_as_evaluated(ctx, adapters, params, desc=desc)

    def nearest(images: np.ndarray) -> np.ndarray:  # (M,) similarity to the nearest gallery identity
        return nearest_similarity(ctx, images, embeddings)

    people = [sample_identity(FRESH_FIRST_ID + i, params.synthesize.seed) for i in range(c + m)]
    fresh = train_people(ctx, people, params, FRESH, 1.0, "fresh people")        # (c + m, D)
    seen_score = nearest(rendered(ctx.adapters(seen_in), "seen"))
    thresholds = {"train models left out (evaluate_sampling's)": novelty_threshold(
                      nearest(rendered(ctx.adapters(left_out), "left out")), seen_score),
                  "fresh people's models": novelty_threshold(
                      nearest(rendered(fresh[:c], "fresh")), seen_score)}
    for name, value in thresholds.items():
        print(f"novelty threshold calibrated on {name} against seen: {value:.3f}", flush=True)
    truth = truth_of(ctx.table)                                                  # (N, T)

    made = {"train fleet models in the gallery (seen)": (ctx.adapters(seen), None),
            "train fleet models left out of it (new to the gallery, not to the judge)": (
                ctx.adapters(new_people), None),
            "fresh people's models (new to the gallery, the judge and the base)": (fresh[c:], None),
            "the space's sampler (Gaussian per component)": (
                sample(Basis.load(DATA / "basis"), m, p.seed, p.covariance, p.components), None)}
    for people in (int(k) for k in args.people.split(",")):
        made[f"attributes first, a blend of {people} / sqrt {people}"] = blend_people(
            ctx, gallery, m, people, p.seed)
    for people in (int(k) for k in args.snapped.split(",") if k):
        for label, strength in ((f"sqrt {people}", np.sqrt(people)), ("1", 1.0)):
            made[f"a blend of {people}, attributes snapped at {label} x their state's mean"] = blend_people(
                ctx, gallery, m, people, p.seed, snap=strength)
    seen_name, fresh_name = list(made)[0], list(made)[2]
    print("| models | consistency | vs seen train models | vs fresh people's | trait spread "
          "| nearest gallery similarity | vs fresh people's "
          "| called novel (left-out rule / fresh rule) | nearest of the people blended "
          "| trait error vs their mean (vs another blend's people) | attributes agreeing across seeds |\n"
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |", flush=True)
    consistent, score = {}, {}

    def versus(values: np.ndarray, reference: np.ndarray | None) -> str:
        if reference is None or values is reference:
            return ""
        lo, hi = unpaired_difference_ci(values, reference, p.seed)
        return f"{values.mean() - reference.mean():+.3f} [{lo:+.3f}, {hi:+.3f}]"

    for name, (adapters, groups) in made.items():
        images = rendered(adapters, name)
        consistent[name], spread = consistency(ctx, images), trait_spread(ctx.judge, images)
        score[name] = nearest(images)
        calls = sample_calls(ctx.judge, images)                                   # (M, n, A)
        pairs = np.triu_indices(images.shape[1], 1)
        agree = (calls[:, pairs[0]] == calls[:, pairs[1]]).mean()
        own = blended = ""
        if groups is not None:
            e = mean_embeddings(ctx.judge, images)                                # (M, E)
            members = embeddings[np.searchsorted(gallery, groups)]                # (M, people, E)
            own = summary("", np.einsum("me,mpe->mp", e, members).max(1))
            other = np.roll(groups, 1, axis=0)  # another blend's people: the yardstick's far end
            blended = (summary("", trait_errors(ctx.judge, images, truth[groups].mean(1)))
                       + f" ({trait_errors(ctx.judge, images, truth[other].mean(1)).mean():.3f})")
        print(f"| {name} | {summary('', consistent[name])} | "
              f"{versus(consistent[name], consistent[seen_name])} | "
              f"{versus(consistent[name], consistent.get(fresh_name))} | {spread.mean():.3f} | "
              f"{summary('', score[name])} | {versus(score[name], score.get(fresh_name))} | "
              f"{' / '.join(f'{np.mean(score[name] < t):.3f}' for t in thresholds.values())} | {own} | "
              f"{blended} | {agree:.3f} |", flush=True)


if __name__ == "__main__":
    main()
