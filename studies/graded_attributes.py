"""Does a sampled model hold its person when the world draws half-way attributes? (issue 17, claim 1)

    python studies/graded_attributes.py [--identities N] [VARIANT ...]
    # default: a space of 320 train identities, every variant; about 20 minutes a variant but
    # "binary" (a base UNet and N adapters trained). What each world costs and buys beyond the
    # sampler (claim 3, the directions, the identity share, a judge of its own): graded_costs.py

A blend of two people with the same attributes is a person; one across attributes asks the base for
half a beard, which the base then draws whole or not at all from seed to seed (`sample_blends.py`),
and the space's sampler mixes hundreds of people's attributes. The world draws every attribute's
cue fully or not at all, so no training image shows a half-way state. In the "graded" world
(`w2w.world.identity.sample_grades`) the cues of 7 attributes (Young, No_Beard, Eyeglasses,
Pale_Skin, Chubby, Narrow_Eyes, Big_Nose) are drawn at a strength uniform in [0.5, 1] where the
identity has the attribute and in [0, 0.5) where not: the labels, traits and nuisance stay the
world's, only the cues' strengths spread, as a photo's binary label thresholds a beard's density.
Sex, baldness and the hair colours stay categorical: the control inside the graded world.
"graded_all" grades sex too (hair length, jaw, brows and lips between a woman's and a man's) and
draws the hair's colour as a mix of its own and another (weight above 0.5 on its own); "binary_seed1"
is the world as drawn on a base UNet trained from another seed, to say how far a base's own training
draw moves these figures. "graded_margin" and "graded_all_margin" keep every strength MARGIN (0.25)
from the threshold, in [0.75, 1] or [0, 0.25): half-way cues are still drawn, but none so near the
threshold that its label is a guess.

Each variant gets its own base UNet ("binary": the committed base; the others the base stage's UNet
recipe on their world's renders of all train identities, through the committed VAE and text
encoder), fleet (the committed adapters; the others retrained with params.yaml's finetune section on
their base), and a basis of all components of the first N train identities' adapters. Then, as
evaluate_sampling does, 64 of those train models and 64 models the basis's sampler draws are sampled
(its prompt, seeds, steps and guidance) and read: the judge's consistency across seeds; the trait
spread (`sample_blends.trait_spread`); the grade spread, the sd across a model's seeds of each
graded cue's strength read by a regressor trained here on fresh graded people (the trait regressor's
recipe; the committed world's full and absent cues are its extremes, so it reads both worlds); and
the attribute reader's calls, whether a model's seeds agree on each categorical attribute. The train
models' similarity to 8 fresh references of their own world (the ladder's model rung) says what the
graded world costs the fleet. Train identities only; no held-out identity is read. Kept under the
ignored studies/runs/graded_attributes/ and reused.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from ambiguous_input import train_people  # studies/: the script's folder is first on sys.path
from base_steps import trained_unet, with_unet
from fleet_fit import ci, difference
from sample_blends import sample_calls, sampled_as_evaluated, trait_spread
from variants import parse_variants

from w2w.atomic import atomic_path
from w2w.base.latents import round_trip
from w2w.evaluate.context import Context
from w2w.evaluate.judged import trait_errors, truth_of
from w2w.evaluate.ladder import sample_models, scored
from w2w.evaluate.sampling import consistency
from w2w.evaluate.share import encode_renders
from w2w.evaluate.stats import unpaired_difference_ci
from w2w.judge.api import Judge
from w2w.judge.model import TraitNet
from w2w.judge.train import (
    TRAIT_FIRST_ID,
    TrainingSet,
    train_traits,
    with_round_trips,
)
from w2w.params import Params, load_params, override
from w2w.space.edit import sample_coefficients
from w2w.space.pca import fit_in_memory
from w2w.storage import STREAM_EVAL, STREAM_IMAGES, STREAM_JUDGE
from w2w.world.dataset import identities_from_table, render_identities
from w2w.world.identity import ATTRIBUTES, GRADED, TRAITS, Identity, sample_grades, sample_identity

DATA, RUNS = Path("data"), Path("studies/runs/graded_attributes")
FRESH, CHECK = 6000, 500  # fresh graded people the grade regressor trains on, and reads to be checked
VARIANTS = {  # how the world draws each person's cues, and the base UNet's seed
    "binary": (None, None), "graded": ("fine", 0), "binary_seed1": (None, 1), "graded_all": ("all", 0),
    "graded_margin": ("fine_margin", 0), "graded_all_margin": ("all_margin", 0)}
MARGIN = 0.25  # the "_margin" worlds' strengths: in [0.75, 1] with the attribute, in [0, 0.25) without


def graded(people: list[Identity], seed: int, kind: str | None = "fine") -> list[Identity]:
    """The people as a variant's world draws them: None as drawn, "fine" the 7 cues graded, "all"
    sex and hair colour too; "_margin": no strength within MARGIN of the threshold."""
    if kind is None:
        return people
    margin = MARGIN if kind.endswith("_margin") else 0.0
    return [sample_grades(i, seed, coarse=kind.startswith("all"), margin=margin) for i in people]


def variant_base(ctx: Context, params: Params, name: str) -> Context:
    """The committed context with the base stage's UNet retrained (at the variant's seed) on every
    train identity's renders as the variant's world draws them (the world's render stream and
    nuisance), encoded by the committed VAE."""
    kind, seed = VARIANTS[name]
    s = params.synthesize
    train = np.flatnonzero(~ctx.heldout)
    people = graded(identities_from_table(ctx.table.iloc[train]), s.seed, kind)
    images = render_identities(people, s.images_per_identity, s.seed, STREAM_IMAGES, s.image_size,
                               desc=f"{name} renders")                         # (T, K, S, S, 3)
    latents = encode_renders(ctx.pipe, images).numpy()                          # (T, K, C, h, w)
    cache = np.zeros((len(ctx.table), *latents.shape[1:]), np.float32)          # held-out rows unread
    cache[train] = latents
    p = override(params.base, seed=seed)
    return with_unet(ctx, trained_unet(ctx, cache, p, RUNS / name / "unet"))


def regressor_judge(ctx: Context, params: Params, images: Callable[[], np.ndarray], targets: torch.Tensor,
                    names: list[str], path: Path) -> Judge:
    """The committed judge with its trait regressor replaced: the trait regressor's network and recipe
    (VAE round trips included) trained on `images()` (n, S, S, 3) to `targets` (n, K), named `names`,
    standardised by their mean and sd; kept in `path` and reused from there."""
    p = params.judge
    mean, std = targets.mean(0), targets.std(0)
    net = TraitNet(targets.shape[1], p.width, params.synthesize.image_size)
    if path.is_file():
        net.load_state_dict(torch.load(path))
    else:
        n = len(targets)
        data = TrainingSet(torch.from_numpy(images()), torch.arange(n), torch.zeros(n, 1), targets)
        net = train_traits(with_round_trips(data, lambda x: round_trip(ctx.pipe.vae, x)), mean, std, p)
        with atomic_path(path) as tmp:
            torch.save(net.state_dict(), tmp)
    config = {**ctx.judge.config, "traits": names, "trait_mean": mean.tolist(), "trait_std": std.tolist()}
    return Judge(ctx.judge.net, config, net.eval(), reader=ctx.judge.reader_net)


def fresh_people(params: Params, n: int, kind: str | None) -> list[Identity]:
    """n people drawn afresh (the trait regressor's ids) as a variant's world draws them."""
    seed = params.judge.seed
    return graded([sample_identity(TRAIT_FIRST_ID + i, seed) for i in range(n)], seed, kind)


def fresh_renders(params: Params, people: list[Identity]) -> np.ndarray:
    """One render each (n, S, S, 3) of the judge's stream."""
    p = params.judge
    return render_identities(people, 1, p.seed, STREAM_JUDGE, params.synthesize.image_size,
                             desc="fresh people")[:, 0]


def grade_reader(ctx: Context, params: Params) -> Judge:
    """A reader of the 7 cue strengths (as `predict_traits`), trained on one render each of FRESH
    graded people drawn afresh; checked on CHECK more such people, through the VAE."""
    people = fresh_people(params, FRESH + CHECK, "fine")
    images = fresh_renders(params, people)
    strengths = torch.tensor([[i.grades[a] for a in GRADED] for i in people], dtype=torch.float32)
    reader = regressor_judge(ctx, params, lambda: images[:FRESH], strengths[:FRESH], list(GRADED),
                             RUNS / "grade_reader.pt")
    read = reader.predict_traits(round_trip(ctx.pipe.vae, images[FRESH:]))
    truth = strengths[FRESH:].numpy()
    print(f"grade reader, {CHECK} fresh graded people through the VAE: correlation "
          + ", ".join(f"{a} {np.corrcoef(read[:, j], truth[:, j])[0, 1]:.2f}" for j, a in enumerate(GRADED)),
          flush=True)
    return reader


def world_trait_judge(ctx: Context, params: Params, kind: str | None) -> Judge:
    """The committed judge with a trait regressor of the variant's world, trained on one render each
    of FRESH people drawn afresh as that world draws them. Trained alike for every world, so that
    each world's traits are read by a regressor that has seen its drawing, the committed one (11,880
    people of the world as drawn) aside."""
    people = fresh_people(params, FRESH, kind)
    traits = torch.tensor([[i.traits[t] for t in TRAITS] for i in people], dtype=torch.float32)
    return regressor_judge(ctx, params, lambda: fresh_renders(params, people), traits, list(TRAITS),
                           RUNS / f"traits_{kind or 'binary'}.pt")


def readout(ctx: Context, params: Params, reader: Judge, adapters: np.ndarray, desc: str) -> dict:
    """Per model (M,): consistency, trait spread, grade spread (RMS over the 7, in population sds),
    categorical agreement; and per graded attribute the grade spread (M, 7)."""
    images = sampled_as_evaluated(ctx, adapters, params, desc=desc)              # (M, n, S, S, 3)
    m, n = images.shape[:2]
    grades = reader.predict_traits(images.reshape(m * n, *images.shape[2:])).reshape(m, n, -1)
    per_grade = (grades / np.asarray(reader.config["trait_std"])).std(1, ddof=1)  # (M, 7)
    calls = sample_calls(ctx.judge, images)                                      # (M, n, A)
    categorical = [ctx.judge.attribute_names.index(a) for a in ATTRIBUTES if a not in GRADED]
    agree = (calls[:, :, categorical] == calls[:, :1, categorical]).all(1).mean(1)
    return {"consistency": consistency(ctx, images), "trait spread": trait_spread(ctx.judge, images),
            "grade spread": np.sqrt((per_grade ** 2).mean(1)), "categorical agreed": agree,
            "per grade": per_grade}


def world_figures(ctx: Context, params: Params, reader: Judge, adapters: np.ndarray, ids: np.ndarray,
                  trained_pos: np.ndarray, name: str) -> dict[str, dict]:
    basis = fit_in_memory(adapters.astype(np.float64), ids, len(adapters) - 1, "exact", params.pca)
    p = params.evaluate_sampling
    drawn = basis.to_weights(sample_coefficients(basis, p.trained_models, p.seed))
    return {"trained": readout(ctx, params, reader, adapters[trained_pos], f"{name} trained"),
            "sampled": readout(ctx, params, reader, drawn, f"{name} sampled")}


def report(name: str, figures: dict[str, dict], seed: int) -> None:
    t, s = figures["trained"], figures["sampled"]
    print(f"\n{name} world, {len(t['consistency'])} train models against as many sampled ones:")
    for key in ("consistency", "trait spread", "grade spread", "categorical agreed"):
        lo, hi = unpaired_difference_ci(s[key], t[key], seed)
        print(f"  {key:18s} trained {t[key].mean():.3f} {ci(t[key])}  sampled {s[key].mean():.3f} "
              f"{ci(s[key])}  sampled - trained {s[key].mean() - t[key].mean():+.3f} [{lo:+.3f}, {hi:+.3f}]",
              flush=True)
    print("  grade spread by attribute, trained / sampled: " + ", ".join(
        f"{a} {t['per grade'][:, j].mean():.2f} / {s['per grade'][:, j].mean():.2f}"
        for j, a in enumerate(GRADED)), flush=True)


def gap_difference(b: dict, g: dict, key: str, seed: int) -> str:
    """(sampled - trained) in one variant (g) minus the same in another (b), with a bootstrap
    interval: the trained models are the same identities in both (resampled together), the two
    sampled sets independent draws."""
    rng = np.random.default_rng(seed)
    tb, tg, sb, sg = (b["trained"][key], g["trained"][key], b["sampled"][key], g["sampled"][key])
    point = (sg.mean() - tg.mean()) - (sb.mean() - tb.mean())
    draws = []
    for _ in range(2000):
        i, j, k = (rng.integers(0, len(x), len(x)) for x in (tb, sb, sg))
        draws.append((sg[k].mean() - tg[i].mean()) - (sb[j].mean() - tb[i].mean()))
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return f"{point:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def variant_adapters(ctx: Context, params: Params, name: str, rows: np.ndarray) -> tuple[Context, np.ndarray]:
    """The variant's base (a context) and its fleet's adapters of the table rows `rows`."""
    if name == "binary":
        return ctx, ctx.adapters(rows)
    vctx = variant_base(ctx, params, name)
    people = graded(identities_from_table(ctx.table.iloc[rows]), params.synthesize.seed, VARIANTS[name][0])
    return vctx, train_people(vctx, people, params, RUNS / name / "fleet", 1.0, f"{name} fleet")


def open_space(params: Params, identities: int) -> tuple[Context, np.ndarray, np.ndarray]:
    """The committed context, the space's train rows (a seeded sample of `identities`, sorted) and
    the positions among them of the 64 trained models' rows (evaluate_sampling's, a prefix)."""
    p = params.evaluate_sampling
    if not (DATA / "weights.zarr").is_dir():
        sys.exit("data/weights.zarr: missing; run `dvc repro stack` first")
    if identities < p.trained_models + 2:
        sys.exit(f"--identities {identities}: needs at least {p.trained_models + 2} (the trained models)")
    torch.manual_seed(0)
    ctx = Context.open(DATA / "world", DATA / "weights.zarr", DATA / "base", DATA / "judge")
    ctx.pipe.unet.requires_grad_(False)
    rows = np.sort(ctx.rows(False, identities, p.seed))
    return ctx, rows, np.searchsorted(rows, np.sort(ctx.rows(False, p.trained_models, p.seed)))


def main(argv: list[str]) -> None:
    args = parse_variants(argv, __doc__, VARIANTS, identities=320)
    params = load_params()
    p, q, seed = params.evaluate_sampling, params.evaluate_inversion, params.synthesize.seed
    ctx, rows, trained_pos = open_space(params, args.identities)
    table = ctx.table.iloc[rows]
    ids, own = table["identity_id"].to_numpy(), table.iloc[trained_pos]
    reader = grade_reader(ctx, params)
    worlds, rungs, own_errors = {}, {}, {}
    for name in args.variants:
        kind = VARIANTS[name][0]
        vctx, adapters = variant_adapters(ctx, params, name, rows)
        worlds[name] = world_figures(vctx, params, reader, adapters, ids, trained_pos, name)
        report(name, worlds[name], p.seed)
        references = render_identities(graded(identities_from_table(own), seed, kind), q.renders_per_identity,
                                       q.seed, STREAM_EVAL, params.synthesize.image_size)
        samples = sample_models(vctx, adapters[trained_pos], q, f"{name} rung")
        rungs[name] = r = scored(vctx, name, samples, references, truth_of(own))
        judge = world_trait_judge(ctx, params, kind)
        own_errors[name] = trait_errors(judge, samples, truth_of(own))
        ceiling = trait_errors(judge, references, truth_of(own))
        print(f"  train models against 8 fresh renders of their world: similarity {r.similarity.mean():.3f} "
              f"{ci(r.similarity)}, trait error {r.trait_error.mean():.3f} {ci(r.trait_error)}; by a "
              f"regressor of its own world {own_errors[name].mean():.3f} {ci(own_errors[name])} "
              f"(its 8 references {ceiling.mean():.3f})", flush=True)
    names = list(worlds)
    for i, a in enumerate(names):
        for b in names[:i]:
            print(f"\n{a} against {b}: train models, paired: similarity "
                  f"{difference(rungs[a].similarity, rungs[b].similarity)}, trait error "
                  f"{difference(rungs[a].trait_error, rungs[b].trait_error)} (each world's own "
                  f"regressor {difference(own_errors[a], own_errors[b])}), consistency "
                  f"{difference(worlds[a]['trained']['consistency'], worlds[b]['trained']['consistency'])}")
            for key in ("consistency", "trait spread", "grade spread", "categorical agreed"):
                print(f"  sampled - trained, {a} minus {b}, {key}: "
                      f"{gap_difference(worlds[b], worlds[a], key, p.seed)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
