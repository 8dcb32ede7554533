"""Claim 3 where one image under-determines the person: w2w against the single-image LoRA in a world
whose pose, light and smile vary further (issue 17, the single-image regime).

    python studies/ambiguous_input.py [--identities N] [VARIANT ...]
    # default: 32 validation identities, every variant; about 6 minutes for "world", 25 for each other

In the world as drawn one render shows the judge most of its person (0.945 against four others), so
a single-image LoRA has little to overfit to and the space's prior little to add. A variant "poseS"
draws every train identity's training renders, its references and its painting with pose, light and
smile S times as far from the identity's own as the world draws them (`identity_share.py`'s
pose_double at S = 2, where one render shows 0.751), trains the fleet's recipe on them (params.yaml's
finetune section, the person masks of those renders), and fits a basis, as the pca stage fits one, to
every train adapter but those of the N validation identities (`inversion_fit.py`'s seeded sample).
Each validation identity's first render, and its painting, then becomes a model by w2w and by the
single-image LoRA (evaluate_inversion's settings), scored against 8 references of that world by both
yardsticks, paired. "world" is the world's own renders and the committed fleet (S = 1). The base and
the judge stay the committed ones, trained on the world as drawn, so a variant asks the base to learn
poses it has seen less often. No held-out identity is read. A variant's trained adapters are kept
under the ignored studies/runs/ambiguous_input/ and reused. Needs `dvc repro directions`.
"""

from __future__ import annotations

import hashlib
import sys
from functools import partial
from pathlib import Path

import numpy as np
import torch
from fleet_fit import ci, difference, mirrored  # studies/: the script's folder is first on sys.path
from identity_share import fixed_renders, nuisance_fixer
from inversion_fit import SEED
from tqdm import tqdm
from variants import parse_variants

from w2w.evaluate.context import Context
from w2w.evaluate.inversion import Scored, score_models, single_image_lora, w2w_inversion
from w2w.evaluate.judged import similarities, trait_errors, truth_of
from w2w.evaluate.share import encode_renders, train_adapters
from w2w.evaluate.stats import sample_rows
from w2w.params import Params, load_params
from w2w.space.basis import Basis
from w2w.space.pca import fit_in_memory
from w2w.storage import STREAM_EVAL, STREAM_IMAGES, STREAM_OOD
from w2w.world.dataset import identities_from_table
from w2w.world.identity import Identity
from w2w.world.workers import map_in_processes

DATA, RUNS = Path("data"), Path("studies/runs/ambiguous_input")
VARIANTS = {"world": 1.0, "pose1.5": 1.5, "pose2": 2.0}  # pose, light and smile this many times as far
CHUNK = 64  # identities trained, then saved, at a time: an interrupted variant resumes


def posed(identity: Identity, n: int, seed: int, stream: int, size: int, scale: float, anchor_seed: int,
          painting: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """n renders (n, S, S, 3) uint8 and person masks (n, S, S) of the (seed, id, stream) draws, their
    pose `scale` times as far from the identity's own (drawn from anchor_seed) as drawn; at scale 1
    `render_identity`'s and `identity_masks`' very images."""
    return fixed_renders(identity, n, seed, stream, size,
                         nuisance_fixer(identity, anchor_seed, False, False, scale), painting)


def draw(people: list[Identity], n: int, seed: int, stream: int, params: Params, scale: float,
         painting: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """`posed` for every identity on every core: (M, n, S, S, 3) and (M, n, S, S)."""
    s = params.synthesize
    out = map_in_processes(partial(posed, n=n, seed=seed, stream=stream, size=s.image_size, scale=scale,
                                   anchor_seed=s.seed, painting=painting), people)
    return np.stack([o[0] for o in out]), np.stack([o[1] for o in out])


def recipe_key(params: Params) -> str:
    """A short hash of the finetune section: cached adapters are reused only for the same recipe."""
    return hashlib.sha256(params.finetune.model_dump_json().encode()).hexdigest()[:12]


def train_people(ctx: Context, people: list[Identity], params: Params, folder: Path, scale: float,
                 desc: str, mirror: bool = False) -> np.ndarray:
    """(len(people), D) adapters trained with params.yaml's finetune section on each person's
    training renders at pose `scale` (`posed`; the world's own renders at 1), CHUNK people at a time,
    each chunk saved under folder/<recipe key>/ as it is done and reused from there."""
    folder = folder / (recipe_key(params) + ("_mirrored" if mirror else ""))
    folder.mkdir(parents=True, exist_ok=True)
    n, chunks = params.synthesize.images_per_identity, []
    for start in tqdm(range(0, len(people), CHUNK), desc=f"{desc}, {CHUNK} a chunk"):
        part = people[start:start + CHUNK]
        path = folder / f"adapters_{start:05d}_{len(part)}.npy"  # a longer list reuses the full chunks
        if not path.is_file():
            images, masks = draw(part, n, params.synthesize.seed, STREAM_IMAGES, params, scale)
            if mirror:  # each render followed by its mirror image
                images, masks = mirrored(images), mirrored(masks)
            adapters, _ = train_adapters(ctx.pipe, encode_renders(ctx.pipe, images),
                                         [i.identity_id for i in part], params.finetune,
                                         masks=torch.from_numpy(masks))
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, adapters)
            tmp.rename(path)
        chunks.append(np.load(path))
    return np.concatenate(chunks)


def fleet(ctx: Context, params: Params, name: str, scale: float, train_rows: np.ndarray) -> np.ndarray:
    """(len(train_rows), D) adapters of the train identities, trained on their renders at `scale`
    (the committed fleet's at scale 1)."""
    if scale == 1.0:
        return ctx.adapters(train_rows)
    people = identities_from_table(ctx.table.iloc[train_rows])
    return train_people(ctx, people, params, RUNS / name, scale, f"{name}: fleet")


def report(name: str, label: str, s: Scored | tuple[np.ndarray, np.ndarray]) -> None:
    similarity, trait = (s.similarity, s.trait_error) if isinstance(s, Scored) else s
    print(f"{name:8s} {label:24s} similarity {similarity.mean():.3f} {ci(similarity)}  "
          f"trait error {trait.mean():.3f} {ci(trait)}"
          + (f"  realistic {s.realistic.mean():.3f}" if isinstance(s, Scored) else ""), flush=True)


def validation_basis(ctx: Context, params: Params, adapters: np.ndarray, rows: np.ndarray,
                     fleet_rows: np.ndarray | None = None) -> Basis:
    """A basis fitted, as the pca stage fits one (every component), to the adapters (F, D) of
    `fleet_rows` (default: every train row), in that order, but those of the validation rows."""
    fleet_rows = np.flatnonzero(~ctx.heldout) if fleet_rows is None else fleet_rows
    fitted = ~np.isin(fleet_rows, rows)
    ids = ctx.table["identity_id"].to_numpy()
    return fit_in_memory(adapters[fitted].astype(np.float64), ids[fleet_rows[fitted]], int(fitted.sum()) - 1,
                         "exact", params.pca)


def judged_against(ctx: Context, params: Params, people: list[Identity], rows: np.ndarray, scale: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the validation rows' models are scored against: `evaluate_inversion`'s references of each
    of `people` at pose `scale` (M, r, S, S, 3), their true attributes (M, A) and traits (M, T)."""
    p, table = params.evaluate_inversion, ctx.table.iloc[rows]
    references, _ = draw(people, p.renders_per_identity, p.seed, STREAM_EVAL, params, scale)
    return references, table[ctx.judge.attribute_names].to_numpy(dtype=bool), truth_of(table)


def read_claim3(ctx: Context, params: Params, name: str, basis: Basis, own: np.ndarray, rows: np.ndarray,
                scale: float, people: list[Identity] | None = None) -> dict[str, Scored]:
    """Claim 3 on the validation rows: their fleet models `own` (len(rows), D), and w2w in `basis`
    against the single-image LoRA from each one's first render and its painting, scored against 8
    references of the world at `scale`; printed, and returned by rung ("fleet", "w2w render", ...).
    `people`: the rows' identities as a variant world draws them (default: as the table has them)."""
    p, fp, seed = params.evaluate_inversion, params.finetune, params.synthesize.seed
    table = ctx.table.iloc[rows]
    people = people or identities_from_table(table)
    references, truth, traits = judged_against(ctx, params, people, rows, scale)
    inputs = {"render": draw(people, 1, seed, STREAM_IMAGES, params, scale)[0][:, 0],
              "painting": draw(people, 1, seed, STREAM_OOD, params, scale, painting=True)[0][:, 0]}
    print(f"\n{name}: pose, light and smile x{scale:g}; {len(rows)} validation train identities, a basis of "
          f"{len(basis.train_coefficients)} other train adapters ({basis.k} components)", flush=True)
    one = references[:, :1]
    report(name, "one reference vs the rest", (similarities(ctx.judge, one, references[:, 1:]),
                                               trait_errors(ctx.judge, one, traits)))
    for setting, images in inputs.items():
        report(name, f"input: {setting}", (similarities(ctx.judge, images[:, None], references),
                                           trait_errors(ctx.judge, images[:, None], traits)))
    scored = {"fleet": score_models(ctx, own, references, truth, traits, p, f"{name} fleet")}
    report(name, "fleet model", scored["fleet"])
    for setting, images in inputs.items():
        w2w = score_models(ctx, w2w_inversion(ctx, basis, images, p, fp), references, truth, traits, p,
                           f"{name} w2w {setting}")
        lora = score_models(ctx, single_image_lora(ctx, images, table["identity_id"].tolist(), p, fp),
                            references, truth, traits, p, f"{name} lora {setting}")
        report(name, f"w2w from the {setting}", w2w)
        report(name, f"LoRA from the {setting}", lora)
        print(f"{name:8s} w2w - LoRA, {setting:9s}     "
              f"similarity {difference(w2w.similarity, lora.similarity)}, "
              f"trait error {difference(w2w.trait_error, lora.trait_error)}, "
              f"realistic {difference(w2w.realistic, lora.realistic)}", flush=True)
        scored[f"w2w {setting}"], scored[f"lora {setting}"] = w2w, lora
    return scored


def measure(ctx: Context, params: Params, name: str, scale: float, rows: np.ndarray) -> None:
    train_rows = np.flatnonzero(~ctx.heldout)
    adapters = fleet(ctx, params, name, scale, train_rows)                       # (T, D)
    own = np.searchsorted(train_rows, rows)  # the validation identities' own fleet adapters, rows' order
    read_claim3(ctx, params, name, validation_basis(ctx, params, adapters, rows), adapters[own], rows, scale)


def main(argv: list[str]) -> None:
    args = parse_variants(argv, __doc__, VARIANTS, identities=32)
    params = load_params()
    ctx = Context.open(DATA / "world", DATA / "weights.zarr", DATA / "base", DATA / "judge")
    rows = np.sort(sample_rows(ctx.heldout, False, args.identities, SEED))  # inversion_fit's validation
    for name in args.variants:
        measure(ctx, params, name, VARIANTS[name], rows)


if __name__ == "__main__":
    main(sys.argv[1:])
