"""What a graded world costs and buys beyond the sampler's gap (issue 17): claim 3, the directions,
the identity share, and the sampler's gap read by a judge of its own world.

    python studies/graded_costs.py --measure claim3|directions|share|judge [--identities N] [VARIANT ...]
    # the variants and their caches are graded_attributes.py's (train them there, or here, about
    # 20 minutes a variant); claim3: about 11 minutes a variant; directions: about a minute;
    # share: about 3 minutes a variant; judge: about 4 minutes a graded variant

claim3 reads claim 3 in each variant's world as `ambiguous_input.py` does, on `inversion_fit.py`'s
32 validation identities (fleet models trained for them where the variant retrains) in a basis of
the N adapters less theirs: w2w against the single-image LoRA from a render and from the painting,
and each world's w2w - LoRA minus another's, paired over the same 32 identities. directions reads
what a world costs the edits: the directions stage's classifier on each variant's basis
coefficients of its N train identities, out of fold (5 folds), an AUC per attribute with its
interval; beside it, how well one render tells each graded label (graded_attributes.py's grade
reader, through the VAE, on fresh people of that world). share reads the identity share
(`identity_share.py`'s defaults) of the 64 train models' identities in each variant's world, on
its base. judge reads the sampler's gap again with the judge's identity network retrained on each
graded world's renders of its train identities (the judge stage's recipe; the world as drawn keeps
the committed judge, trained so), so that no world is read by a judge that learned another's
drawing. Train identities only; no held-out identity is read. Each reading is kept in the
variant's folder under the ignored studies/runs/graded_attributes/ and reused.
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import torch
from ambiguous_input import read_claim3, train_people  # studies/: the script's folder is first on sys.path
from direction_auc import out_of_fold
from fleet_fit import ci, difference
from graded_attributes import (
    CHECK,
    DATA,
    FRESH,
    RUNS,
    VARIANTS,
    fresh_people,
    fresh_renders,
    gap_difference,
    grade_reader,
    graded,
    open_space,
    variant_adapters,
    variant_base,
)
from identity_share import Variant as ShareVariant
from identity_share import renders as share_renders
from inversion_fit import SEED as VALIDATION_SEED
from sample_blends import sampled_as_evaluated
from sklearn.metrics import roc_auc_score
from variants import parse_variants

from w2w.atomic import atomic_path
from w2w.base.latents import round_trip
from w2w.evaluate.context import Context
from w2w.evaluate.sampling import consistency
from w2w.evaluate.share import adapter_cosines, encode_renders, train_halves
from w2w.evaluate.stats import auc_ci, sample_rows, unpaired_difference_ci
from w2w.judge.api import Judge
from w2w.judge.model import JudgeNet
from w2w.judge.train import render_training_set, train_judge, with_round_trips
from w2w.params import Params, load_params
from w2w.space.edit import sample_coefficients
from w2w.space.pca import fit_in_memory
from w2w.world.dataset import identities_from_table, identity_table
from w2w.world.identity import ATTRIBUTES, GRADED

MEASURES = ("claim3", "directions", "share", "judge")


def claim3(ctx: Context, params: Params, name: str, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Claim 3 in the variant's world (`ambiguous_input.read_claim3`) on inversion_fit's validation
    identities, in a basis of the variant's adapters (of the table rows `rows`) less theirs. Returns
    per validation identity (32,) w2w - LoRA from each input, by similarity and by trait error, and
    each rung's similarity; kept in the variant's claim3.npz and read from there once it exists."""
    path = RUNS / name / "claim3.npz"
    if path.is_file():
        print(f"\n{name}: claim 3 from {path}", flush=True)
        return dict(np.load(path))
    vctx, adapters = variant_adapters(ctx, params, name, rows)
    val = np.sort(sample_rows(ctx.heldout, False, 32, VALIDATION_SEED))
    fitted = ~np.isin(rows, val)
    ids = ctx.table["identity_id"].to_numpy()[rows[fitted]]
    basis = fit_in_memory(adapters[fitted].astype(np.float64), ids, int(fitted.sum()) - 1, "exact",
                          params.pca)
    people = graded(identities_from_table(ctx.table.iloc[val]), params.synthesize.seed, VARIANTS[name][0])
    own = ctx.adapters(val) if name == "binary" else train_people(
        vctx, people, params, RUNS / name / "validation", 1.0, f"{name} validation fleet")
    read = read_claim3(vctx, params, name, basis, own, val, 1.0, people)
    out = {f"{rung} similarity": r.similarity for rung, r in read.items()}
    for setting in ("render", "painting"):
        w2w, lora = read[f"w2w {setting}"], read[f"lora {setting}"]
        out[f"{setting} similarity gap"] = w2w.similarity - lora.similarity
        out[f"{setting} trait error gap"] = w2w.trait_error - lora.trait_error
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **out)
    return out


def compare_claim3(gaps: dict[str, dict[str, np.ndarray]]) -> None:
    """Each world's w2w - LoRA, and one world's minus another's, paired over the 32 identities."""
    zero = np.zeros(32)
    for name, g in gaps.items():
        print(f"{name:18s} w2w - LoRA: " + "; ".join(
            f"{setting} similarity {difference(g[f'{setting} similarity gap'], zero)}, trait error "
            f"{difference(g[f'{setting} trait error gap'], zero)}" for setting in ("render", "painting")))
    names = list(gaps)
    for i, a in enumerate(names):
        for b in names[:i]:
            key = "{} similarity gap".format
            print(f"  {a} minus {b}, paired: " + "; ".join(
                f"{setting} similarity {difference(gaps[a][key(setting)], gaps[b][key(setting)])}"
                for setting in ("render", "painting")), flush=True)


def direction_aucs(params: Params, adapters: np.ndarray, ids: np.ndarray, labels: dict[str, np.ndarray]
                   ) -> dict[str, tuple[float, float, float]]:
    """Per attribute, the directions stage's classifier on the space's coefficients, out of fold
    (5 folds; the basis is fitted on every row, unsupervised): AUC and its 95 % interval."""
    basis = fit_in_memory(adapters.astype(np.float64), ids, len(adapters) - 1, "exact", params.pca)
    x = basis.to_coefficients(adapters.astype(np.float64))
    out = {}
    for name, y in labels.items():
        score = out_of_fold(x, y, params.directions)
        out[name] = (float(roc_auc_score(y, score)), *auc_ci(y, score))
    return out


def legibility(ctx: Context, params: Params, reader: Judge, kind: str | None) -> dict[str, float]:
    """Per graded attribute, how well one render tells the label in a world: the AUC of the grade
    reader's strength (through the VAE) for the label, on CHECK fresh people it was not trained on."""
    people = fresh_people(params, FRESH + CHECK, kind)[FRESH:]
    read = reader.predict_traits(round_trip(ctx.pipe.vae, fresh_renders(params, people)))
    return {a: float(roc_auc_score([i.attributes[a] for i in people], read[:, j]))
            for j, a in enumerate(GRADED)}


def identity_shares(ctx: Context, params: Params, name: str, rows: np.ndarray) -> np.ndarray:
    """Per identity of the table rows `rows`, the identity share in the variant's world and on its
    base (`identity_share.py`'s defaults: two adapters on 4 fresh renders each, person-weighted as
    the fleet trains, params.yaml's finetune section); kept in the variant's share.npy."""
    path = RUNS / name / "share.npy"
    if path.is_file():
        return np.load(path)
    vctx = ctx if name == "binary" else variant_base(ctx, params, name)
    s, n = params.synthesize, ShareVariant().renders_per_half
    people = graded(identities_from_table(ctx.table.iloc[rows]), s.seed, VARIANTS[name][0])
    drawn = [share_renders(i, 2 * n, s.seed, s.image_size, ShareVariant()) for i in people]
    latents = encode_renders(vctx.pipe, np.stack([d[0] for d in drawn]))          # (M, 2n, C, h, w)
    masks = torch.from_numpy(np.stack([d[1] for d in drawn]))                     # (M, 2n, S, S)
    a, b = train_halves(vctx.pipe, DATA / "base", latents[:, :n], latents[:, n:],
                        [i.identity_id for i in people], params.finetune, masks[:, :n], masks[:, n:])
    same, _ = adapter_cosines(a, b)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, same)
    return same


def world_judge(ctx: Context, params: Params, name: str) -> Judge:
    """The committed judge for the world as drawn; for a graded variant, the judge stage's identity
    and attribute network retrained alike on that world's renders of the train identities (its
    renders, stream and VAE round trips), kept in the variant's judge.pt. Nothing else of the judge
    is retrained, and none of its held-out figures is read."""
    if VARIANTS[name][0] is None:
        return ctx.judge
    p, path = params.judge, RUNS / name / "judge.pt"
    people = graded(identities_from_table(ctx.table), params.synthesize.seed, VARIANTS[name][0])
    table = identity_table(people, ctx.heldout)                   # render_training_set keeps the train rows
    size = params.synthesize.image_size
    net = JudgeNet(len(ATTRIBUTES), p.width, p.embedding_dim, size)
    if path.is_file():
        net.load_state_dict(torch.load(path))
    else:
        data = with_round_trips(render_training_set(table, p, size), lambda x: round_trip(ctx.pipe.vae, x))
        net = train_judge(data, p)
        with atomic_path(path) as tmp:
            torch.save(net.state_dict(), tmp)
    return Judge(net, {**ctx.judge.config, "attributes": list(ATTRIBUTES)})


def print_directions(ctx: Context, params: Params, names: list[str], rows: np.ndarray) -> None:
    table = ctx.table.iloc[rows]
    labels = {a: table[a].to_numpy(bool) for a in ATTRIBUTES}
    ids = table["identity_id"].to_numpy()
    aucs = {name: direction_aucs(params, variant_adapters(ctx, params, name, rows)[1], ids, labels)
            for name in names}
    reader = grade_reader(ctx, params)
    for name, auc in aucs.items():
        legible = legibility(ctx, params, reader, VARIANTS[name][0])
        print(f"{name}: one render's cue strength (the grade reader, through the VAE) for the label, "
              f"AUC on {CHECK} fresh people: " + ", ".join(f"{a} {v:.3f}" for a, v in legible.items()))
        low = min(auc, key=lambda a: auc[a][0])
        print(f"{name}: direction AUC out of fold, {len(rows)} train identities: min {low} "
              f"{auc[low][0]:.3f} [{auc[low][1]:.3f}, {auc[low][2]:.3f}]; mean "
              f"{np.mean([v[0] for v in auc.values()]):.3f}; " + ", ".join(
                  f"{a} {v[0]:.3f}" for a, v in auc.items()), flush=True)


def print_judged_gaps(ctx: Context, params: Params, names: list[str], rows: np.ndarray,
                      trained_pos: np.ndarray) -> None:
    """The sampler's gap in each world, read by a judge of that world (`world_judge`), as
    graded_attributes.py reads it by the committed judge; and one world's gap minus another's."""
    p, gaps = params.evaluate_sampling, {}
    ids = ctx.table["identity_id"].to_numpy()[rows]
    for name in names:
        vctx, adapters = variant_adapters(ctx, params, name, rows)
        vctx = dataclasses.replace(vctx, judge=world_judge(ctx, params, name))
        basis = fit_in_memory(adapters.astype(np.float64), ids, len(adapters) - 1, "exact", params.pca)
        drawn = basis.to_weights(sample_coefficients(basis, p.trained_models, p.seed))
        trained, sampled = (consistency(vctx, sampled_as_evaluated(vctx, w, params, desc=f"{name} {k}"))
                            for k, w in (("trained", adapters[trained_pos]), ("sampled", drawn)))
        gaps[name] = {"trained": {"consistency": trained}, "sampled": {"consistency": sampled}}
        lo, hi = unpaired_difference_ci(sampled, trained, p.seed)
        print(f"{name}, read by a judge of its own world: consistency trained {trained.mean():.3f} "
              f"{ci(trained)}, sampled {sampled.mean():.3f} {ci(sampled)}, sampled - trained "
              f"{sampled.mean() - trained.mean():+.3f} [{lo:+.3f}, {hi:+.3f}]" + "".join(
                  f"; minus {b}'s gap {gap_difference(gaps[b], gaps[name], 'consistency', p.seed)}"
                  for b in list(gaps)[:-1]), flush=True)


def print_shares(ctx: Context, params: Params, names: list[str], rows: np.ndarray) -> None:
    shares = {name: identity_shares(ctx, params, name, rows) for name in names}
    for k, (name, same) in enumerate(shares.items()):
        print(f"{name}: identity share of {len(same)} train identities {same.mean():.3f} {ci(same)}"
              + "".join(f"; minus {other}'s {difference(same, shares[other])}" for other in list(shares)[:k]),
              flush=True)


def main(argv: list[str]) -> None:
    args = parse_variants(argv, __doc__, VARIANTS, identities=320, measure="")
    if args.measure not in MEASURES:
        sys.exit(f"--measure {args.measure!r}: one of {', '.join(MEASURES)}")
    params = load_params()
    ctx, rows, trained_pos = open_space(params, args.identities)
    if args.measure == "claim3":
        compare_claim3({name: claim3(ctx, params, name, rows) for name in args.variants})
    elif args.measure == "directions":
        print_directions(ctx, params, args.variants, rows)
    elif args.measure == "share":
        print_shares(ctx, params, args.variants, rows[trained_pos])
    else:
        print_judged_gaps(ctx, params, args.variants, rows, trained_pos)


if __name__ == "__main__":
    main(sys.argv[1:])
