"""Claim 3 where people's traits go together: can the space then infer what one image hides?
(issue 17, the single-image regime)

    python studies/correlated_traits.py [--identities N] [--fleet F] [VARIANT ...]
    # default: 32 validation identities among every train identity (F 0), both variants; about 27
    # minutes, 20 of them training the correlated fleet, whose adapters are kept and reused
    # (under the ignored studies/runs/correlated_traits/); --fleet 320 about 23; --identities 64 about
    # 15 once the fleet is kept
    python studies/correlated_traits.py --measure space [--identities N] [VARIANT ...]
    # claim 1 and the space's rungs instead of claim 3 (about 5 minutes a variant once the fleet is kept)

The world draws each of a person's 16 traits independently, uniform in [-1, 1], so nothing one part
of a face shows says anything of another: a prior over people, which is all the space adds to one
image, can keep an inversion among realistic people but cannot fill in what the image leaves out
(`occluded_input.py`: from a render with a hand or hat over part of it, w2w and the single-image
LoRA are level). Real faces are not like that. The variant "correlated" redraws every person's
traits from FACTORS shared factors (each trait's variance COMMUNALITY of theirs, the rest its own),
through the normal's CDF so that each stays uniform in [-1, 1] as the world draws it; the
attributes stay the person's own. "world" is the world as drawn (the committed fleet's adapters).

For each variant, the fleet's recipe (params.yaml's finetune section, the person masks) makes the
adapters of F train identities (all of them at 0; the N validation identities of
`inversion_fit.py`'s seeded sample among them; the committed adapters for "world"); a basis is
fitted, as the pca stage fits one, to the F - N others; each validation identity's first render,
as it is and with an occluder (`occluded_input.py`, the loss weighted to the visible person),
becomes a model by w2w and by the single-image LoRA (`evaluate_inversion`'s settings), scored
against 8 unoccluded references of its variant by both yardsticks, paired. The base and the judge
stay the committed ones: the variant's people are drawn from the same ranges. No held-out identity
is read. Needs `dvc repro directions`.

With `--measure space`, each variant's world is read where a world change would move the rest of
the ladder: the validation identities' fleet models and their projections onto the same basis
(both yardsticks, the projection's relative residual, the share of the fleet's similarity kept),
their consistency across seeds, and evaluate_sampling's sampled models from the basis (their
consistency against the fleet models', unpaired, and the share of their samples called renders).
Variants are paired by identity: the same ids, attributes and nuisance draws, the traits redrawn.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from ambiguous_input import draw, report, train_people, validation_basis  # studies/ is first on sys.path
from fleet_fit import ci, difference
from inversion_fit import SEED
from variants import parse_variants

from w2w.adapters.render import render_models
from w2w.evaluate.context import Context
from w2w.evaluate.inversion import score_models, single_image_lora, w2w_inversion
from w2w.evaluate.judged import realistic_fractions, similarities, trait_errors
from w2w.evaluate.ladder import projected
from w2w.evaluate.occluder import PLACES, occlude_each
from w2w.evaluate.sampling import consistency
from w2w.evaluate.stats import sample_rows, unpaired_difference_ci
from w2w.params import Params, load_params
from w2w.space.basis import Basis
from w2w.space.edit import sample
from w2w.storage import STREAM_EVAL, STREAM_IMAGES
from w2w.world.dataset import identities_from_table
from w2w.world.identity import TRAITS, Identity, correlate_traits, sample_identity

DATA, RUNS = Path("data"), Path("studies/runs/correlated_traits")
VARIANTS = {"world": False, "correlated": True}
FACTORS, COMMUNALITY = 2, 0.7


def correlated(person: Identity, seed: int) -> Identity:
    """The person with traits drawn from FACTORS shared factors, each trait's share COMMUNALITY
    (`w2w.world.identity.correlate_traits`, the world's own draw at those settings)."""
    return correlate_traits(person, seed, FACTORS, COMMUNALITY)


def structure(seed: int, people: int = 2000) -> tuple[float, float]:
    """How strongly `correlated` ties the traits, over that many people drawn afresh: the mean absolute
    correlation of two traits, and the R^2 with which the first half of the traits predicts the rest
    (least squares)."""
    drawn = [correlated(sample_identity(i, seed), seed) for i in range(people)]
    t = np.array([[person.traits[n] for n in TRAITS] for person in drawn])  # (people, T)
    r = np.corrcoef(t.T)[np.triu_indices(len(TRAITS), 1)]
    half = len(TRAITS) // 2
    x = np.column_stack([t[:, :half], np.ones(people)])
    fitted = x @ np.linalg.lstsq(x, t[:, half:], rcond=None)[0]
    r2 = 1 - ((t[:, half:] - fitted) ** 2).sum() / ((t[:, half:] - t[:, half:].mean(0)) ** 2).sum()
    return float(np.abs(r).mean()), float(r2)


def variant_fleet(ctx: Context, params: Params, name: str, fleet_rows: np.ndarray
                  ) -> tuple[list[Identity], np.ndarray]:
    """The people of `fleet_rows` as the variant draws them, and their adapters (F, D): the committed
    fleet's for "world", the correlated fleet trained (or read back) for "correlated"."""
    people = identities_from_table(ctx.table.iloc[fleet_rows])
    if not VARIANTS[name]:
        return people, ctx.adapters(fleet_rows)
    seed = params.synthesize.seed
    r, r2 = structure(seed)
    print(f"{name}: traits' mean |correlation| {r:.2f}; half of them predict the rest with R^2 {r2:.2f} "
          f"(2000 people drawn afresh)", flush=True)
    people = [correlated(person, seed) for person in people]
    folder = RUNS / f"fleet{len(fleet_rows)}"
    return people, train_people(ctx, people, params, folder, 1.0, "correlated fleet")


def judged(ctx: Context, params: Params, valid: list[Identity], rows: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The validation people's references (M, r, S, S, 3) as the variant draws them (ambiguous_input's
    drawing at pose x1: render_identity's very images), true attributes (M, A) and traits (M, T)."""
    p = params.evaluate_inversion
    references, _ = draw(valid, p.renders_per_identity, p.seed, STREAM_EVAL, params, 1.0)
    truth = ctx.table.iloc[rows][ctx.judge.attribute_names].to_numpy(dtype=bool)
    return references, truth, np.array([[person.traits[t] for t in TRAITS] for person in valid])


def read_space(ctx: Context, params: Params, name: str, basis: Basis, own: np.ndarray, valid: list[Identity],
               rows: np.ndarray) -> dict[str, np.ndarray]:
    """Claim 1 and the projection rungs for the validation people's fleet models `own` (M, D); printed,
    and each per-identity figure returned by name for the pairing across variants."""
    p, ps = params.evaluate_inversion, params.evaluate_sampling
    references, truth, traits = judged(ctx, params, valid, rows)
    inside, residual = projected(basis, own)
    fleet = score_models(ctx, own, references, truth, traits, p, f"{name} fleet")
    projection = score_models(ctx, inside, references, truth, traits, p, f"{name} projected")
    print(f"\n{name}: {len(rows)} validation train identities, a basis of {len(basis.train_coefficients)} "
          f"other train adapters ({basis.k} components)", flush=True)
    report(name, "fleet model", fleet)
    report(name, "its projection", projection)
    print(f"{name:8s} projection keeps {projection.similarity.mean() / fleet.similarity.mean():.2f} of the "
          f"fleet's similarity; relative residual {residual.mean():.3f} {ci(residual)}", flush=True)

    def render(adapters: np.ndarray, desc: str) -> np.ndarray:  # as evaluate_sampling samples
        return render_models(ctx.pipe, adapters, ctx.layout, ctx.scaling, params.finetune.prompt,
                             ps.samples_per_model, ps.seed, ps.sampler_steps, ps.guidance_scale, desc=desc,
                             base_unconditional=ps.unconditional == "base")

    trained = consistency(ctx, render(own, f"{name} fleet, sampling's seeds"))
    samples = render(sample(basis, ps.models, ps.seed, ps.covariance, ps.components), f"{name} sampled")
    sampled, real = consistency(ctx, samples), realistic_fractions(ctx.judge, samples)
    lo, hi = unpaired_difference_ci(sampled, trained)
    print(f"{name:8s} consistency: fleet models {trained.mean():.3f} {ci(trained)}, {ps.models} sampled "
          f"models {sampled.mean():.3f} {ci(sampled)}, difference {sampled.mean() - trained.mean():+.3f} "
          f"[{lo:+.3f}, {hi:+.3f}]; sampled called renders {real.mean():.3f} {ci(real)}", flush=True)
    return {"fleet similarity": fleet.similarity, "fleet trait error": fleet.trait_error,
            "projection similarity": projection.similarity, "projection trait error": projection.trait_error,
            "relative residual": residual, "fleet consistency": trained, "sampled consistency": sampled}


def measure(ctx: Context, params: Params, name: str, fleet_rows: np.ndarray, rows: np.ndarray,
            space: bool) -> dict[str, np.ndarray] | None:
    """Claim 3 (or, with `space`, claim 1 and the space's rungs) on the validation `rows` of a
    variant, in a basis of the other `fleet_rows`."""
    p, fp = params.evaluate_inversion, params.finetune
    people, adapters = variant_fleet(ctx, params, name, fleet_rows)
    own = np.isin(fleet_rows, rows)
    ids = ctx.table["identity_id"].to_numpy()[fleet_rows]
    basis = validation_basis(ctx, params, adapters, rows, fleet_rows)
    valid = [person for person, o in zip(people, own, strict=True) if o]
    if space:
        return read_space(ctx, params, name, basis, adapters[own], valid, rows)
    references, truth, traits = judged(ctx, params, valid, rows)
    first, masks = draw(valid, 1, params.synthesize.seed, STREAM_IMAGES, params, 1.0)
    ids_valid = [person.identity_id for person in valid]
    hidden, visible, places = occlude_each(first[:, 0], masks[:, 0], ids_valid, SEED)
    inputs = {"render": (first[:, 0], None), "occluded": (hidden, visible)}
    print(f"\n{name}: {len(rows)} validation train identities, a basis of {int((~own).sum())} other train "
          f"adapters ({basis.k} components)", flush=True)
    for setting, (images, _) in inputs.items():
        report(name, f"input: {setting}", (similarities(ctx.judge, images[:, None], references),
                                           trait_errors(ctx.judge, images[:, None], traits)))
    report(name, "fleet model",
           score_models(ctx, adapters[own], references, truth, traits, p, f"{name} fleet"))
    for setting, (images, person) in inputs.items():
        w2w = score_models(ctx, w2w_inversion(ctx, basis, images, p, fp, person), references, truth,
                           traits, p, f"{name} w2w {setting}")
        lora = score_models(ctx, single_image_lora(ctx, images, ids[own].tolist(), p, fp, person), references,
                            truth, traits, p, f"{name} lora {setting}")
        report(name, f"w2w from the {setting}", w2w)
        report(name, f"LoRA from the {setting}", lora)
        print(f"{name:8s} w2w - LoRA, {setting:9s} similarity {difference(w2w.similarity, lora.similarity)}, "
              f"trait error {difference(w2w.trait_error, lora.trait_error)}", flush=True)
        if setting == "occluded":  # where the occluder went: what it hid
            for place in PLACES:
                at = np.array(places) == place
                print(f"{name:8s}   occluder over the {place} ({at.sum()}): similarity "
                      f"{difference(w2w.similarity[at], lora.similarity[at])}, trait error "
                      f"{difference(w2w.trait_error[at], lora.trait_error[at])}", flush=True)


def main(argv: list[str]) -> None:
    args = parse_variants(argv, __doc__, VARIANTS, identities=32, fleet=0, measure="inversion")
    if args.measure not in ("inversion", "space"):
        sys.exit(f"--measure: inversion or space, got {args.measure!r}")
    params = load_params()
    ctx = Context.open(DATA / "world", DATA / "weights.zarr", DATA / "base", DATA / "judge")
    rows = np.sort(sample_rows(ctx.heldout, False, args.identities, SEED))  # inversion_fit's validation
    others = np.setdiff1d(np.flatnonzero(~ctx.heldout), rows)
    fleet = args.fleet or len(rows) + len(others)
    if fleet <= len(rows) + 1 or fleet - len(rows) > len(others):
        sys.exit(f"--fleet {fleet}: must be above {len(rows) + 1} and at most {len(rows) + len(others)}")
    extra = np.random.default_rng(SEED).choice(others, fleet - len(rows), replace=False)
    fleet_rows = np.sort(np.concatenate([rows, extra]))
    space = args.measure == "space"
    read = {name: measure(ctx, params, name, fleet_rows, rows, space) for name in args.variants}
    if space and len(read) == 2:  # the same ids, attributes and nuisance: paired
        (a, x), (b, y) = read.items()
        print(f"\n{b} - {a}, paired by identity:", flush=True)
        for figure in x:
            if figure.startswith("sampled"):  # different models of different bases: unpaired
                lo, hi = unpaired_difference_ci(y[figure], x[figure])
                print(f"  {figure:24s} {y[figure].mean() - x[figure].mean():+.3f} [{lo:+.3f}, {hi:+.3f}] "
                      "(unpaired)", flush=True)
            else:
                print(f"  {figure:24s} {difference(y[figure], x[figure])}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
