"""Why are sampled models inconsistent? Blends, scalings and shuffles of train fleet models.

    python studies/sample_blends.py [VARIANT ...]   # default: all; needs the default run's outputs
                                                    # (dvc repro pca); about 7 minutes

Train identities only. evaluate_sampling finds models sampled from the space far less consistent
across seeds than trained ones. A Gaussian draw is, in effect, a blend of many identities, so this
study asks how consistency behaves between the two: each variant is 64 models made from train
identities' fleet adapters w (the 64 train models of `train_choices.py sampling`, and 64 others as
blend partners), sampled and judged as evaluate_sampling does (4 seeds, the judge's mean pairwise
cosine; attribute agreement: the share of attributes on which two seeds' samples agree; trait
spread: the trait regressor's estimates of each sample, the sd across a model's seeds in
population sds, root mean square over the traits, the person's continuous traits where
consistency mixes them with the attributes):
- scaled: w_mean + s (w - w_mean), w_mean the train adapters' mean (the basis's mean);
- blends of n identities with their distances from the mean added and divided by sqrt(n) (as far
  from the mean as one model, in the standardised space too) or by n (the plain midpoint); and
  blends of 2, 4 and 8 whose partners have the same 13 attributes (other train identities, the
  nearest by the number of attributes that differ where too few match all), so that only the
  continuous traits are blended: a blend across attributes asks the base for half a beard, one
  within them does not;
- the same blends of the products B @ A that the adapters apply (rank-2 adapters, rank-1 parts
  intact), to see whether flattening (A, B) into one vector is what breaks a blend;
- the space's own sampler (independent Gaussians per component), twice as far out, and each
  component's coefficient drawn from a different random train identity (the marginals kept, the
  components' dependence broken); and a sampler that draws the attributes first (a random train
  identity's 13), then the mean coefficients of the train identities that share them plus
  independent Gaussians with the pooled sd of each component within such groups (on all
  components, or on the first 64, 16 or 1, the rest at the group's mean);
- a train model's leading 64 coefficients with the rest drawn by the sampler, and the other way
  round.
Variants built from the 64 train models are compared with them paired; the others unpaired. The
yardsticks' two ends come first: 4 world renders of one identity, and of 4 identities.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from w2w.adapters.layout import AdapterLayout
from w2w.adapters.render import render_models
from w2w.evaluate.context import Context
from w2w.evaluate.sampling import consistency
from w2w.evaluate.stats import bootstrap_ci, paired_difference_ci, unpaired_difference_ci
from w2w.judge.api import Judge
from w2w.params import Params, load_params
from w2w.space.basis import Basis
from w2w.space.edit import sample_coefficients
from w2w.world.identity import ATTRIBUTES

DATA = Path("data")
HEAD = 64  # leading components in the head/tail swaps


def rank2_blend(layout: AdapterLayout, a: np.ndarray, b: np.ndarray, wa: float, wb: float
                ) -> tuple[AdapterLayout, np.ndarray]:
    """Rank-2 adapters (M, D2) applying wa * B_a @ A_a + wb * B_b @ A_b; a, b (M, D) rank-1 rows."""
    shapes, parts = [], []
    for key, shape, offset, size in zip(layout.keys, layout.shapes, layout.offsets, layout.sizes,
                                        strict=True):
        xa = a[:, offset:offset + size].reshape(-1, *shape)
        xb = b[:, offset:offset + size].reshape(-1, *shape)
        y = (np.concatenate([xa, xb], 1) if "lora_A" in key                 # (M, 2, in)
             else np.concatenate([wa * xa, wb * xb], 2))                     # (M, out, 2)
        shapes.append(y.shape[1:])
        parts.append(y.reshape(len(y), -1))
    return AdapterLayout(layout.keys, tuple(shapes)), np.concatenate(parts, 1).astype(np.float32)


def sampled_as_evaluated(ctx: Context, adapters: np.ndarray, params: Params,
                         layout: AdapterLayout | None = None, desc: str = "models") -> np.ndarray:
    """(M, n, S, S, 3): each model (M, D) sampled as evaluate_sampling samples it (its prompt, seeds,
    sampler steps and guidance), at `layout` (default: the context's)."""
    p = params.evaluate_sampling
    return render_models(ctx.pipe, adapters, ctx.layout if layout is None else layout, ctx.scaling,
                         params.finetune.prompt, p.samples_per_model, p.seed, p.sampler_steps,
                         p.guidance_scale, desc=desc)


def sample_calls(judge: Judge, images: np.ndarray) -> np.ndarray:
    """(..., A) bool: the attribute reader's call on each image of images (..., S, S, 3)."""
    lead = images.shape[:-3]
    return (judge.attribute_probabilities(images.reshape(-1, *images.shape[-3:])) > 0.5).reshape(*lead, -1)


def trait_spread(judge: Judge, images: np.ndarray) -> np.ndarray:
    """(k,) the sd of the trait estimates across each model's samples (k, n, S, S, 3), in population
    sds, root mean square over the traits."""
    k, n = images.shape[:2]
    traits = judge.predict_traits(images.reshape(k * n, *images.shape[2:])).reshape(k, n, -1)
    return np.sqrt((traits / np.asarray(judge.config["trait_std"])).var(1, ddof=1).mean(1))


def nearest_attributes(table, own: np.ndarray, pool: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, int]:
    """For each of the rows `own`, k rows of `pool` (never itself), those with the fewest attributes
    different from its own first, ties in a seeded random order: (M, k); and for how many rows all
    k match every attribute."""
    rng = np.random.default_rng(seed)
    attrs = table[list(ATTRIBUTES)].to_numpy(bool)
    partners, exact = [], 0
    for r in own:
        candidates = pool[pool != r]
        differ = (attrs[candidates] != attrs[r]).sum(1)
        order = np.lexsort((rng.random(len(candidates)), differ))[:k]
        partners.append(candidates[order])
        exact += int(differ[order].max() == 0)
    return np.array(partners), exact


def within_attributes(table, basis: Basis, n: int, seed: int, drawn: int = 0) -> np.ndarray:
    """n coefficient vectors (n, k) drawn attribute combination first: a random train identity's 13
    attributes, then the mean coefficients of the train identities that share them plus independent
    Gaussians with the pooled within-combination sd of each of the first `drawn` components (0:
    all; the rest at the combination's mean)."""
    rng = np.random.default_rng(seed)
    by_id = table.set_index("identity_id")
    combos = by_id.loc[basis.train_identity_ids, list(ATTRIBUTES)].to_numpy(bool)
    keys = np.unique(combos, axis=0, return_inverse=True)[1].ravel()              # (n_train,)
    coef = basis.train_coefficients
    means = np.stack([coef[keys == g].mean(0) for g in range(keys.max() + 1)])   # (G, k)
    residual = coef - means[keys]
    sizes = np.bincount(keys)
    sd = np.sqrt((residual ** 2).sum(0) / max(1, len(coef) - len(sizes)))        # pooled, (k,)
    picks = keys[rng.integers(0, len(coef), n)]
    noise = rng.standard_normal((n, coef.shape[1])) * sd
    if drawn:
        noise[:, drawn:] = 0
    return means[picks] + noise


def main(wanted: list[str]) -> None:
    ctx = Context.open(DATA / "world", DATA / "weights.zarr", DATA / "base", DATA / "judge")
    basis = Basis.load(DATA / "basis")
    params = load_params()
    p = params.evaluate_sampling
    m = p.trained_models

    def adapters_in_order(rows_: np.ndarray) -> np.ndarray:
        """(len(rows_), D) adapters of rows that may repeat, in their order."""
        unique = np.unique(rows_)
        return ctx.adapters(unique)[np.searchsorted(unique, rows_)]

    def judged(adapters: np.ndarray, layout: AdapterLayout | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per model: consistency, attribute agreement, and trait spread across its seeds."""
        images = sampled_as_evaluated(ctx, adapters, params, layout)
        calls = sample_calls(ctx.judge, images)                           # (k, n, A)
        pairs = np.triu_indices(images.shape[1], 1)
        return (consistency(ctx, images), (calls[:, pairs[0]] == calls[:, pairs[1]]).mean((1, 2)),
                trait_spread(ctx.judge, images))

    rows = ctx.rows(False, 9 * m, p.seed)  # train identities only, in a seeded order; own first
    own, partners = rows[:m], [rows[m * (i + 1):m * (i + 2)] for i in range(8)]
    if len(partners[-1]) < m:
        raise SystemExit(f"needs {9 * m} train identities, the world has {len(rows)}")
    w = ctx.adapters(own)                                        # (M, D)
    mean = basis.mean.astype(np.float32)                         # (D,) the train adapters' mean
    coef = basis.to_coefficients(w)                              # (M, k)
    drawn = sample_coefficients(basis, m, p.seed)                # (M, k) the space's sampler
    rng = np.random.default_rng(p.seed)
    train_coef = basis.train_coefficients
    centre = train_coef.mean(0)
    shuffled = train_coef[rng.integers(0, len(train_coef), drawn.shape), np.arange(drawn.shape[1])]

    def blend(n: int, divide: float) -> np.ndarray:
        return mean + sum(ctx.adapters(r) - mean for r in [own, *partners[:n - 1]]) / divide

    head, tail = coef.copy(), coef.copy()
    head[:, HEAD:], tail[:, :HEAD] = drawn[:, HEAD:], drawn[:, :HEAD]
    b = ctx.adapters(partners[0])
    train_rows = ctx.rows(False, len(ctx.table), p.seed)
    others = train_rows[~np.isin(train_rows, own)]
    alike, exact = nearest_attributes(ctx.table, own, others, 1, p.seed)
    alike = alike[:, 0]
    print(f"same-attribute partners: {exact} of {m} match every attribute", flush=True)
    w_alike = adapters_in_order(alike)                                       # (M, D)

    def alike_blend(people: int) -> np.ndarray:
        """Each own model blended with people - 1 others of its attributes (the nearest), / sqrt."""
        group, matched = nearest_attributes(ctx.table, own, others, people - 1, p.seed + people)
        print(f"{people - 1} same-attribute partners: all match every attribute for {matched} of {m}",
              flush=True)
        total = w - mean + sum(adapters_in_order(column) - mean for column in group.T)
        return mean + total / people ** 0.5
    paired = {
        "scaled 0.5": mean + 0.5 * (w - mean), "scaled 0.7": mean + 0.7 * (w - mean),
        "scaled 1.5": mean + 1.5 * (w - mean),
        "blend of 2, / sqrt 2": blend(2, 2 ** 0.5), "blend of 2, / 2 (midpoint)": blend(2, 2),
        "blend of 2 with the same attributes, / sqrt 2": mean + (w - mean + w_alike - mean) / 2 ** 0.5,
        "blend of 2 with the same attributes, / 2 (midpoint)": mean + (w - mean + w_alike - mean) / 2,
        **{f"blend of {k} with the same attributes, / sqrt {k}": (lambda k=k: alike_blend(k))
           for k in (4, 8)},
        "blend of 3, / sqrt 3": blend(3, 3 ** 0.5), "blend of 8, / sqrt 8": blend(8, 8 ** 0.5),
        "products B@A: blend of 2, / 2": rank2_blend(ctx.layout, w, b, 0.5, 0.5),
        "products B@A: blend of 2, / sqrt 2": rank2_blend(ctx.layout, w, b, 2 ** -0.5, 2 ** -0.5),
        "products B@A: sum of 2": rank2_blend(ctx.layout, w, b, 1.0, 1.0),
        f"own first {HEAD} coefficients, rest drawn": basis.to_weights(head),
        f"first {HEAD} drawn, own rest": basis.to_weights(tail),
    }
    unpaired = {
        "the sampler (Gaussian per component)": basis.to_weights(drawn),
        "the sampler, twice as far out": basis.to_weights(centre + 2 * (drawn - centre)),
        "each component from another identity": basis.to_weights(shuffled),
        "attributes first, then a Gaussian within them": basis.to_weights(
            within_attributes(ctx.table, basis, m, p.seed)),
        **{f"attributes first, a Gaussian within them on the first {k} components": basis.to_weights(
            within_attributes(ctx.table, basis, m, p.seed, k)) for k in (1, 16, 64)},
    }
    n = p.samples_per_model  # the yardsticks' ends: one person's renders, and as many people's
    renders = np.asarray(ctx.images.get_orthogonal_selection((np.sort(own), slice(0, n))))
    people = np.stack([np.asarray(ctx.images.get_orthogonal_selection((np.sort(r), 0)))
                       for r in [own, *partners[:n - 1]]], 1)
    trained, agree, trained_spread = judged(w)
    print("| models | consistency | vs the train models | attribute agreement | trait spread across seeds "
          "| vs the train models |\n| --- | --- | --- | --- | --- | --- |")
    print(f"| train fleet models | {trained.mean():.3f} {np.round(bootstrap_ci(trained), 3).tolist()} | | "
          f"{agree.mean():.3f} | {trained_spread.mean():.3f} | |", flush=True)
    for name, images in ((f"{n} world renders of one train identity", renders),
                         (f"{n} train identities' renders, one each", people)):
        spread = trait_spread(ctx.judge, images).mean()
        print(f"| {name} | {consistency(ctx, images).mean():.3f} | | | {spread:.3f} | |", flush=True)
    results: dict[str, np.ndarray] = {}
    made_all = {**paired, **unpaired}
    unknown = [name for name in wanted if name not in made_all]
    if unknown:
        sys.exit(f"unknown variant {unknown[0]!r}; known: {', '.join(made_all)}")
    for name, made in [(n, made_all[n]) for n in (wanted or made_all)]:
        made = made() if callable(made) else made  # built when measured: they read many adapters
        layout, adapters = made if isinstance(made, tuple) else (None, made)
        c, a, spread = judged(adapters, layout)
        results[name] = c
        difference_ci = paired_difference_ci if name in paired else unpaired_difference_ci
        lo, hi = difference_ci(c, trained, p.seed)
        s_lo, s_hi = difference_ci(spread, trained_spread, p.seed)
        print(f"| {name} | {c.mean():.3f} {np.round(bootstrap_ci(c), 3).tolist()} | "
              f"{c.mean() - trained.mean():+.3f} [{lo:+.3f}, {hi:+.3f}] | {a.mean():.3f} | "
              f"{spread.mean():.3f} | {spread.mean() - trained_spread.mean():+.3f} "
              f"[{s_lo:+.3f}, {s_hi:+.3f}] |", flush=True)
    alike_name, random_name = "blend of 2 with the same attributes, / sqrt 2", "blend of 2, / sqrt 2"
    if alike_name in results and random_name in results:  # the same own models: paired
        lo, hi = paired_difference_ci(results[alike_name], results[random_name], p.seed)
        print(f"same attributes against a random partner: "
              f"{(results[alike_name] - results[random_name]).mean():+.3f} [{lo:+.3f}, {hi:+.3f}]")


if __name__ == "__main__":
    main(sys.argv[1:])
