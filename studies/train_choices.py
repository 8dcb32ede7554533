"""Method choices studied on TRAIN identities only (never held-out): the figures in the README's
"Evaluation" section. Needs the default-scale outputs (`dvc repro directions`).

    python studies/train_choices.py edits       # components x strength, delayed injection, prompting
    python studies/train_choices.py edits 64,256,0  # only these direction components (0: all), no delays
    python studies/train_choices.py inversion   # inversion lr and components
    python studies/train_choices.py recovery    # inversion: components optimised vs identity recovered
    python studies/train_choices.py prior       # inversion: a Gaussian prior on its coefficients
    python studies/train_choices.py timesteps   # inversion and single-image LoRA: training timestep range
    python studies/train_choices.py guidance    # the evaluations' guidance scale (fleet models)
    python studies/train_choices.py components  # pca.components: directions' cross-validated AUC
    python studies/train_choices.py sampling    # evaluate_sampling.components: sampled models vs train models
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from fleet_fit import ci, difference, differences  # studies/: the script's folder is first on sys.path

from w2w.adapters.render import render_models
from w2w.evaluate.context import Context
from w2w.evaluate.edits import sweep, w2w_displacements
from w2w.evaluate.inversion import score_models, single_image_lora, w2w_inversion
from w2w.evaluate.judged import judged_attributes, truth_of
from w2w.evaluate.ladder import scored
from w2w.evaluate.sampling import consistency, identity_embeddings, nearest_similarity
from w2w.evaluate.stats import unpaired_difference_ci
from w2w.params import FinetuneParams, load_params
from w2w.space.attributes import fit_attribute_directions, labels_of, usable_attributes
from w2w.space.basis import Basis
from w2w.space.directions import fit_directions
from w2w.space.edit import sample
from w2w.space.invert import identity_recovery, invert_batch
from w2w.space.pca import fit_basis
from w2w.storage import STREAM_OOD
from w2w.world.dataset import identities_from_table, render_identities
from w2w.world.references import identity_references

DATA = Path("data")


def edits(ctx: Context, basis: Basis, components: list[int] | None = None) -> None:
    params = load_params()
    rows = ctx.rows(False, params.evaluate_edits.selection_identities)
    variants = ([(k, 0) for k in components] if components
                else [(k, 0) for k in (16, 64, 256)] + [(256, t) for t in (700, 400)])
    for k, delay in variants:
        fitted = fit_attribute_directions(DATA / "world", DATA / "weights.zarr", basis,
                                          params.directions.model_copy(update={"components": k}))
        directions = fitted.directions
        names = [a for a in directions.attributes if a in ctx.judge.attribute_names]
        p = params.evaluate_edits.model_copy(update={"delay": delay})
        _, res = sweep(ctx, rows, names, {"w2w": w2w_displacements(basis, directions, names)}, p,
                       params.finetune.prompt)
        for s, sc in res["w2w"].items():
            print(f"components {k} delay {delay} strength {s:g}: flip {sc.flip.mean():.3f} identity "
                  f"{sc.identity_similarity.mean():.3f} kept {sc.others_kept.mean():.3f}", flush=True)
    sc = res["prompt"][0.0]
    print(f"prompting: flip {sc.flip.mean():.3f} identity {sc.identity_similarity.mean():.3f} "
          f"kept {sc.others_kept.mean():.3f}")


def inversion(ctx: Context, basis: Basis) -> None:
    params = load_params()
    rows = ctx.rows(False, 6)
    table = ctx.table.iloc[rows]
    p0 = params.evaluate_inversion
    renders = identity_references(ctx.world, table, p0.renders_per_identity, p0.seed)
    truth = table[ctx.judge.attribute_names].to_numpy(dtype=bool)
    images = np.asarray(ctx.images.get_orthogonal_selection((rows, 0)))
    for k, lr in ((0, 0.01), (0, 0.03), (0, 0.1), (16, 0.1), (64, 0.1), (64, 0.03)):  # k 0: all components
        p = p0.model_copy(update={"lr": lr, "components": k})
        weights = w2w_inversion(ctx, basis, images, p, params.finetune)
        scored = score_models(ctx, weights, renders, truth, truth_of(table), p, f"lr {lr}")
        sim, agree = scored.similarity, scored.agreement
        c = basis.to_coefficients(weights)
        own_rows = [int(np.flatnonzero(basis.train_identity_ids == i)[0]) for i in table["identity_id"]]
        own = np.linalg.norm(c - basis.train_coefficients[own_rows], axis=1)
        mean = np.linalg.norm(c - basis.train_coefficients.mean(0), axis=1)
        print(f"components {k or basis.k} lr {lr}: identity similarity {sim.mean():.3f}, "
              f"attribute agreement {agree.mean():.3f}, "
              f"closer to own identity than to the mean {int((own < mean).sum())} of {len(rows)}", flush=True)


def recovery(ctx: Context, basis: Basis) -> None:
    """Coefficient space: is the inverted model nearer its own identity than the mean (the origin),
    and where does its own identity rank among all train identities (1: nearest)?"""
    rows = ctx.rows(False, 8)
    images = np.asarray(ctx.images.get_orthogonal_selection((rows, 0)))
    rank = ctx.layout.shapes[0][0]
    for k, lr in ((8, 0.1), (16, 0.1), (32, 0.1), (64, 0.1), (256, 0.03)):
        c = invert_batch(ctx.pipe, basis, ctx.layout, rank, ctx.scaling * rank, images, "sks person", k,
                         200, lr, progress=False)[:, :k]
        ratio, ranks = identity_recovery(c, basis, ctx.table["identity_id"].to_numpy()[rows])
        print(f"k {k} lr {lr}: closer to own identity than to the mean {int((ratio < 1).sum())} of "
              f"{len(rows)}, own identity ranked {ranks.tolist()} of {len(basis.train_coefficients)} "
              f"(median {np.median(ranks):g})", flush=True)


def prior(ctx: Context, basis: Basis, weights: tuple[float, ...] = (0.0, 0.01, 0.03, 0.1)) -> None:
    """w2w inversion with a Gaussian prior of the train population on its coefficients (`invert`'s
    prior_weight; 0: none, the reference's), from 16 train identities' first render and from their
    painting, drawn as the held-out identities' are: similarity, trait error, realistic share, and
    mean(z^2) of the result (a train identity's own coefficients average 1), paired against none."""
    params = load_params()
    p, fp = params.evaluate_inversion, params.finetune
    rows = ctx.rows(False, 16)
    table = ctx.table.iloc[rows]
    renders = identity_references(ctx.world, table, p.renders_per_identity, p.seed)
    truth, traits = table[ctx.judge.attribute_names].to_numpy(dtype=bool), truth_of(table)
    paintings = render_identities(identities_from_table(table), 1, params.synthesize.seed, STREAM_OOD,
                                  ctx.image_size, painting=True)[:, 0]  # as the world paints the held-out
    inputs = {"render": np.asarray(ctx.images.get_orthogonal_selection((rows, 0))), "painting": paintings}
    spread = np.sqrt(basis.explained_variance)
    for setting, images in inputs.items():
        none = None
        for weight in weights:
            c = invert_batch(ctx.pipe, basis, ctx.layout, fp.rank, fp.lora_alpha, images, fp.prompt, basis.k,
                             p.steps, p.lr, p.seed, p.draws_per_step, progress=False,
                             timestep_range=tuple(fp.timestep_range), prior_weight=weight)
            sc = score_models(ctx, basis.to_weights(c), renders, truth, traits, p,
                              f"{setting} prior {weight:g}")
            print(f"{setting}, prior {weight:g}: mean z^2 {((c / spread) ** 2).mean():.2f}, similarity "
                  f"{sc.similarity.mean():.3f}, trait error {sc.trait_error.mean():.3f}, realistic "
                  f"{sc.realistic.mean():.3f}", flush=True)
            if none is None:
                none = sc
                continue
            for name in ("similarity", "trait_error", "realistic"):
                x, y = getattr(sc, name), getattr(none, name)
                print(f"  vs none, {name}: {difference(x, y)}", flush=True)


def guidance(ctx: Context, basis: Basis) -> None:
    """The guidance the evaluations sample with: train identities' own fleet models, judged
    against fresh renders of their identity (similarity, and trait error) and across their seeds
    (consistency), and as many models drawn by the space's sampler (their consistency, and its gap
    to the trained models'), each paired against the setting before (2, through the model), 95 %
    intervals. Each scale is read with guidance's unconditional branch through the model (the usual)
    and through the base without the adapter (`evaluate_*.unconditional: base`)."""
    params = load_params()
    p0, ps = params.evaluate_finetune, params.evaluate_sampling
    rows = ctx.rows(False, 32, p0.seed)
    table = ctx.table.iloc[rows]
    renders = identity_references(ctx.world, table, p0.renders_per_identity, p0.seed)
    drawn = sample(basis, len(rows), ps.seed, ps.covariance, ps.components)
    before = (2.0, False)
    settings = [before] + [(scale, base) for base in (False, True) for scale in (1.0, 1.5, 2.0, 3.0, 4.0, 5.0)
                           if (scale, base) != before and not (base and scale == 1.0)]  # 1: no branch
    measured: dict[tuple[float, bool], tuple[np.ndarray, ...]] = {}  # similarity, trait error, consistency
    for scale, base in settings:
        name = f"guidance {scale:g}{' away from the base' if base else ''}"
        images = render_models(ctx.pipe, ctx.adapters(rows), ctx.layout, ctx.scaling, params.finetune.prompt,
                               p0.samples_per_identity, p0.seed, p0.sampler_steps, scale, desc=name,
                               base_unconditional=base)
        rung = scored(ctx, name, images, renders, truth_of(table))
        own = consistency(ctx, images)
        sampled = consistency(ctx, render_models(
            ctx.pipe, drawn, ctx.layout, ctx.scaling, params.finetune.prompt, ps.samples_per_model,
            ps.seed, ps.sampler_steps, scale, desc=f"sampled, {name}", base_unconditional=base))
        measured[(scale, base)] = (rung.similarity, rung.trait_error, own)
        lo, hi = unpaired_difference_ci(sampled, own, ps.seed)
        print(f"{name}: similarity {rung.similarity.mean():.3f} {ci(rung.similarity)}, "
              f"trait error {rung.trait_error.mean():.3f} {ci(rung.trait_error)}, "
              f"consistency {own.mean():.3f} {ci(own)}; sampled models' consistency {sampled.mean():.3f}, "
              f"sampled - trained {sampled.mean() - own.mean():+.3f} [{lo:+.3f}, {hi:+.3f}] "
              f"({len(rows)} train identities)", flush=True)
        if (scale, base) != before:
            print("    against 2 through the model, paired: " + differences(
                ("similarity", "trait error", "consistency"), measured[(scale, base)], measured[before]),
                flush=True)


def components(ctx: Context, basis: Basis) -> None:
    """pca.components by the directions' 5-fold cross-validated AUC over train identities only
    (the basis is fitted on all of them: unsupervised, it sees no label). A basis of every
    component the train identities allow is fitted here, so the sweep can pass the committed one."""
    params = load_params()
    train = np.flatnonzero(~ctx.heldout)
    full = fit_basis(ctx.weights, train, ctx.table["identity_id"].to_numpy(),
                     params.pca.model_copy(update={"components": len(train) - 1, "method": "exact"}))
    coefficients = full.to_coefficients(ctx.adapters(train))
    order = np.random.default_rng(0).permutation(len(train))
    names = usable_attributes(ctx.table, train, train)
    labels = labels_of(ctx.table, names, train)
    for k in (32, 64, 128, 256, full.k):
        aucs = []
        for fold in np.array_split(order, 5):
            fit = np.setdiff1d(order, fold)
            _, auc = fit_directions(coefficients[fit][:, :k], {a: y[fit] for a, y in labels.items()},
                                    coefficients[fold][:, :k], {a: y[fold] for a, y in labels.items()},
                                    params.directions)
            aucs.append(list(auc.values()))
        per_attribute = np.mean(aucs, axis=0)
        print(f"components {k}: train cross-validated AUC mean {per_attribute.mean():.3f}, worst "
              f"{per_attribute.min():.3f} ({names[int(per_attribute.argmin())]})", flush=True)


def sampling(ctx: Context, basis: Basis) -> None:
    """evaluate_sampling.components: models sampled from the leading k coefficients (the rest at the
    train mean) against train fleet models only: consistency across seeds, how near the nearest train
    identity they come, and their attribute rates against the train set's."""
    params = load_params()
    p = params.evaluate_sampling

    def render(adapters: np.ndarray, desc: str) -> np.ndarray:
        return render_models(ctx.pipe, adapters, ctx.layout, ctx.scaling, params.finetune.prompt,
                             p.samples_per_model, p.seed, p.sampler_steps, p.guidance_scale, desc=desc)

    train = np.flatnonzero(~ctx.heldout)
    gallery = identity_embeddings(ctx, train)
    names = ctx.judge.attribute_names
    truth = ctx.table.loc[~ctx.heldout, names].to_numpy(dtype=float).mean(0)
    own = ctx.rows(False, p.trained_models, p.seed)
    trained = consistency(ctx, render(ctx.adapters(own), "train models"))
    print(f"train fleet models: consistency {trained.mean():.3f} {ci(trained)}", flush=True)
    for k in (32, 64, 128, 256, 0):
        images = render(sample(basis, p.models, p.seed, p.covariance, k), f"sampled, {k or basis.k}")
        sampled = consistency(ctx, images)
        lo, hi = unpaired_difference_ci(sampled, trained, p.seed)
        rates = judged_attributes(ctx.judge, images).mean(0)
        print(f"components {k or basis.k}: consistency {sampled.mean():.3f}, vs train models "
              f"{sampled.mean() - trained.mean():+.3f} [{lo:+.3f}, {hi:+.3f}]; nearest train identity "
              f"{nearest_similarity(ctx, images, gallery).mean():.3f}; attribute rates off by "
              f"{np.abs(rates - truth).mean():.3f}", flush=True)


def timesteps(ctx: Context, basis: Basis) -> None:
    """The single-image methods' timestep range, all 1000 (the reference's) against the fleet's
    [400, 1000): 16 train identities' first renders, judged as the evaluation judges them, paired."""
    params = load_params()
    p, fp = params.evaluate_inversion, params.finetune
    rows = ctx.rows(False, 16)
    table = ctx.table.iloc[rows]
    renders = identity_references(ctx.world, table, p.renders_per_identity, p.seed)
    truth, traits = table[ctx.judge.attribute_names].to_numpy(dtype=bool), truth_of(table)
    images = np.asarray(ctx.images.get_orthogonal_selection((rows, 0)))
    ids = [int(i) for i in table["identity_id"]]
    ranges = ((0, 1000), (400, 1000))

    def at(span: tuple[int, int]) -> FinetuneParams:  # both methods draw the fleet's timesteps
        return fp.model_copy(update={"timestep_range": list(span)})

    def w2w(span: tuple[int, int]) -> np.ndarray:
        return w2w_inversion(ctx, basis, images, p, at(span))

    def lora(span: tuple[int, int]) -> np.ndarray:
        return single_image_lora(ctx, images, ids, p, at(span))

    for method, make in (("w2w inversion", w2w), ("single-image LoRA", lora)):
        scores = [score_models(ctx, make(span), renders, truth, traits, p, f"{method} {span}")
                  for span in ranges]
        for span, sc in zip(ranges, scores, strict=True):
            print(f"{method} timesteps {list(span)}: similarity {sc.similarity.mean():.3f}, "
                  f"trait error {sc.trait_error.mean():.3f}", flush=True)
        everything, noisy = scores
        for name, x, y in (("similarity", noisy.similarity, everything.similarity),
                           ("trait error", noisy.trait_error, everything.trait_error)):
            print(f"{method} [400, 1000) - all, {name}: {difference(x, y)}", flush=True)


STUDIES = {"edits": edits, "inversion": inversion, "recovery": recovery, "prior": prior,
           "timesteps": timesteps, "guidance": guidance, "components": components, "sampling": sampling}


def main() -> None:
    args = sys.argv[1:]
    if not args or args[0] not in STUDIES or len(args) > (2 if args[0] == "edits" else 1):
        sys.exit(__doc__)
    extra = []
    if len(args) == 2:
        try:
            extra = [int(k) for k in args[1].split(",")]
        except ValueError:
            sys.exit(f"edits: components must be integers separated by commas, got {args[1]!r}")
        if any(k < 0 for k in extra):
            sys.exit(f"edits: components must be at least 0 (0: all), got {args[1]!r}")
    ctx = Context.open(DATA / "world", DATA / "weights.zarr", DATA / "base", DATA / "judge")
    STUDIES[args[0]](ctx, Basis.load(DATA / "basis"), *([extra] if extra else []))


if __name__ == "__main__":
    main()
