"""How much of an adapter is the person, and how much the images it saw? (issue 17)

    python studies/identity_share.py [--identities N] [VARIANT ...]   # default: 24 identities, all variants

The identity share: two adapters of one identity, each trained from the fleet's shared
initialisation on its own set of fresh renders of that identity (disjoint nuisance draws, and
separate noise and timestep draws), compared by cosine after standardising every parameter over all
of the variant's adapters. Different identities give the control: about +0.03 at 24 identities,
the estimator's own offset (a simulation with a known share of 0.25 gives 0.257). A space of these adapters
can only span new identities as far as adapters are about the person, so issue 17 asks for >= 0.6.
The unscaled figure centres without scaling, so that parameters with a large spread weigh more:
if it is much higher, the standardised share is held down by parameters that are mostly noise.
Each side of the adapters has its own share as well: the lora_A matrices (the input side, which every
identity starts from the shared initialisation) and the lora_B ones (the output side, from 0).

The estimator and the trainer are the pipeline's (`w2w.evaluate.share`): the evaluate_inversion
stage reports the share of the configured fleet in metrics/ladder.json; this study varies the
world and the recipe around it.

Measured on a seeded sample of TRAIN identities (never held-out) with the default-scale base
and judge (`dvc repro judge` first) and params.yaml's finetune section; 95 % bootstrap CIs over
identities. Each variant also says how much of the person one of its renders shows the judge.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from fleet_fit import difference, mirrored  # studies/: the script's folder is first on sys.path
from variants import parse_variants

from w2w.adapters.lora import layout_for
from w2w.base.pipeline import load_pipeline
from w2w.evaluate.judged import similarities
from w2w.evaluate.share import adapter_cosines, encode_renders, train_halves
from w2w.evaluate.stats import bootstrap_ci, sample_rows
from w2w.fleet.train import person_weights
from w2w.judge.api import Judge
from w2w.params import Params, load_params
from w2w.world.dataset import identities_from_table
from w2w.world.identity import Identity
from w2w.world.mask import person_mask
from w2w.world.render import Nuisance, render_face, sample_nuisance

DATA = Path("data")
STREAM = 97                 # a render stream nothing trains on (the world's streams are small ints)


# the fleet's noise draws when the variants were measured, pinned under each variant's own overrides so
# that their README figures reproduce if params.yaml's draws move (they did, to 1 with 16 renders, and back)
MEASURED_WITH = {"draws_per_image": 2, "targets": ["to_q", "to_v"]}  # to_v since, then to_out.0 (README)


@dataclasses.dataclass(frozen=True)
class Variant:
    renders_per_half: int = 4                 # the fleet sees 8 renders: 4 per half
    finetune: dict = dataclasses.field(default_factory=dict)  # overrides of params.yaml's finetune
    fixed_scene: bool = False                 # one background and clothes per identity
    fixed_pose: bool = False                  # one pose, scale, shift, light and smile per identity
    pose_scale: float = 1.0                   # pose, light and smile this far from the identity's own
    mirrored: bool = False                    # each half's renders and their mirror images
    scene_cells_from: str = ""                # "fixed": the latent cells that are mostly scene come from a
                                              # render with the identity's own scene (context fixed);
                                              # "drawn": the person's cells do (the scene varies only around)
    person_core: bool = False                 # the loss counts as person only the latent cells that are all
                                              # person (the scene's weight at the person's edge cells too)


VARIANTS = {
    "defaults": Variant(),
    "renders8": Variant(renders_per_half=8),
    "renders8_draws1": Variant(renders_per_half=8, finetune={"draws_per_image": 1}),  # the defaults' compute
    "renders16": Variant(renders_per_half=16),
    "prior": Variant(finetune={"prior_weight": 1.0}),
    "steps3x": Variant(finetune={"steps": 210}),
    "steps50": Variant(finetune={"steps": 50}),  # fewer steps, for the time budget
    "fixed_scene": Variant(fixed_scene=True),
    "fixed_scene_renders8": Variant(renders_per_half=8, fixed_scene=True),
    "fixed_pose": Variant(fixed_pose=True),
    "fixed_all": Variant(fixed_scene=True, fixed_pose=True),  # every render alike: training noise only
    "fixed_all_steps3x": Variant(fixed_scene=True, fixed_pose=True, finetune={"steps": 210}),
    "draws4": Variant(finetune={"draws_per_image": 4}),  # noise and timestep draws of each render a step
    "fixed_all_draws4": Variant(fixed_scene=True, fixed_pose=True, finetune={"draws_per_image": 4}),
    # each render's draws in pairs: one timestep, and noises e and -e if antithetic (the same compute)
    "same_timestep": Variant(finetune={"draws_per_image": 2, "draw_pairing": "same_timestep"}),
    "antithetic": Variant(finetune={"draws_per_image": 2, "draw_pairing": "antithetic"}),
    "fixed_all_antithetic": Variant(fixed_scene=True, fixed_pose=True,
                                    finetune={"draws_per_image": 2, "draw_pairing": "antithetic"}),
    "draws4_antithetic": Variant(finetune={"draws_per_image": 4, "draw_pairing": "antithetic"}),
    # AdamW's eps above the typical gradient (a median sqrt(v) about 8e-5): steps follow the gradient's
    # size, so the nearly flat directions no longer take full steps on noise alone
    **{f"{fixed}eps{e}{f'_lr{lr}' if lr else ''}":
       Variant(fixed_scene=bool(fixed), fixed_pose=bool(fixed), finetune={"adam_eps": float(e)} | (
           {"lr": lr} if lr else {}))
       for fixed in ("", "fixed_all_") for e, lr in (("1e-4", 0), ("3e-4", 0), ("1e-3", 0), ("3e-4", 0.02),
                                                     ("1e-3", 0.03))},
    # the eps's smaller steps in more of them, to give the fit back at the share's gain
    "steps100": Variant(finetune={"steps": 100}),  # the control: the same steps at torch's eps
    "eps3e-4_steps100": Variant(finetune={"adam_eps": 3e-4, "steps": 100}),
    "rank4": Variant(finetune={"rank": 4, "lora_alpha": 108.0}),  # more room in the adapter, scaling kept
    "eps3e-4_steps140": Variant(finetune={"adam_eps": 3e-4, "steps": 140}),
    "lr0.005": Variant(finetune={"lr": 0.005}),  # a smaller step, against the eps above
    "fixed_all_lr0.005": Variant(fixed_scene=True, fixed_pose=True, finetune={"lr": 0.005}),
    "cosine": Variant(finetune={"lr_schedule": "cosine"}),
    "average_half": Variant(finetune={"average_tail": 0.5}),
    "cosine_average": Variant(finetune={"lr_schedule": "cosine", "average_tail": 0.5}),
    "fixed_all_cosine": Variant(fixed_scene=True, fixed_pose=True, finetune={"lr_schedule": "cosine"}),
    "fixed_all_average_half": Variant(fixed_scene=True, fixed_pose=True, finetune={"average_tail": 0.5}),
    "renders16_step8": Variant(renders_per_half=16, finetune={"images_per_step": 8}),  # renders8's compute
    "renders32_step8": Variant(renders_per_half=32, finetune={"images_per_step": 8}),
    "renders64_step8": Variant(renders_per_half=64, finetune={"images_per_step": 8}),
    "renders8_decay1": Variant(renders_per_half=8, finetune={"weight_decay": 1.0}),
    # the loss weighted to the person (w2w.world.mask): the scene counts this much against the person's 1
    "plain_loss": Variant(finetune={"background_weight": 1.0}),  # the recipe before the person weighting
    "person_bg0.3": Variant(finetune={"background_weight": 0.3}),
    "person_bg0.1": Variant(finetune={"background_weight": 0.1}),
    "person_bg0": Variant(finetune={"background_weight": 0.0}),
    "person_bg0.1_renders8": Variant(renders_per_half=8, finetune={"background_weight": 0.1}),
    "fixed_pose_person_bg0.1": Variant(fixed_pose=True, finetune={"background_weight": 0.1}),
    # stratified timesteps: less of the training's own noise in each step
    "person_bg0.1_stratified": Variant(finetune={"background_weight": 0.1, "timesteps": "stratified"}),
    "fixed_all_stratified": Variant(fixed_scene=True, fixed_pose=True, finetune={"timesteps": "stratified"}),
    # pose, light and smile varied half or twice as far about each identity's own (fixed_pose: 0):
    # what the share gains against how much one render still tells the judge
    "pose_half": Variant(pose_scale=0.5),
    "pose_double": Variant(pose_scale=2.0),
    # where in the noise range the adapters learn (the defaults are all of it, each timestep alike)
    "t200": Variant(finetune={"timestep_range": [200, 1000]}),
    "t400": Variant(finetune={"timestep_range": [400, 1000]}),
    "t600": Variant(finetune={"timestep_range": [600, 1000]}),
    "t0_600": Variant(finetune={"timestep_range": [0, 600]}),
    "snr5": Variant(finetune={"snr_gamma": 5.0}),
    "snr1": Variant(finetune={"snr_gamma": 1.0}),
    "fixed_all_t400": Variant(fixed_scene=True, fixed_pose=True, finetune={"timestep_range": [400, 1000]}),
    "pose_double_t400": Variant(pose_scale=2.0, finetune={"timestep_range": [400, 1000]}),
    # fewer parameters per adapter, so the same identities are more adapters per parameter: the
    # value or the query projections alone (each of self- and cross-attention), the scaling kept
    "to_v": Variant(finetune={"targets": ["to_v"]}),
    "to_q": Variant(finetune={"targets": ["to_q"]}),
    "fixed_all_to_v": Variant(fixed_scene=True, fixed_pose=True, finetune={"targets": ["to_v"]}),
    # to_v with more room: rank 2 (the scaling kept), or the keys as well
    "to_v_rank2": Variant(finetune={"targets": ["to_v"], "rank": 2, "lora_alpha": 54.0}),
    "to_k_to_v": Variant(finetune={"targets": ["to_k", "to_v"]}),
    "to_out": Variant(finetune={"targets": ["to_out.0"]}),  # attention's output projections (fit_ceiling.py)
    # the committed target's cap from the training's own randomness: every render of an identity alike
    "fixed_all_to_out": Variant(fixed_scene=True, fixed_pose=True, finetune={"targets": ["to_out.0"]}),
    # which of the nuisance holds it: each identity's scene (background, clothes) or its pose, light and smile
    "fixed_scene_to_out": Variant(fixed_scene=True, finetune={"targets": ["to_out.0"]}),
    "fixed_pose_to_out": Variant(fixed_pose=True, finetune={"targets": ["to_out.0"]}),
    "to_out_bg0": Variant(finetune={"targets": ["to_out.0"], "background_weight": 0.0}),  # no scene loss
    # more room than to_out.0 alone: the value projections beside it, or rank 2 (the scaling kept)
    "to_v_to_out": Variant(finetune={"targets": ["to_v", "to_out.0"]}),
    "to_out_rank2": Variant(finetune={"targets": ["to_out.0"], "rank": 2, "lora_alpha": 54.0}),
    # the feed-forward's output beside or instead of to_out.0 (fit_ceiling.py's rank1_ff2, rank1_to_out_ff2)
    "ff2": Variant(finetune={"targets": ["ff.net.2"]}),
    "to_out_ff2": Variant(finetune={"targets": ["to_out.0", "ff.net.2"]}),
    "ff0": Variant(finetune={"targets": ["ff.net.0.proj"]}),  # the feed-forward's input (rank1_ff0)
    # mirror images as free renders: pose, shift and light are drawn symmetric about the centre, so a
    # mirror is another nuisance draw of the same person but for the hair's parting (a signed trait)
    "to_out_mirrored": Variant(mirrored=True, finetune={"targets": ["to_out.0"]}),  # twice the passes
    "to_out_mirrored_draws1": Variant(mirrored=True, finetune={"targets": ["to_out.0"],
                                                               "draws_per_image": 1}),  # the same passes
    "to_out_renders8_draws1": Variant(renders_per_half=8, finetune={"targets": ["to_out.0"],
                                                                    "draws_per_image": 1}),  # fresh renders
    # does the scene reach the adapters through the cells at the person's edge? A 4x4-pixel latent cell
    # there is part scene, and such cells hold half the person's loss weight: weigh them as scene
    "to_out_core": Variant(person_core=True, finetune={"targets": ["to_out.0"]}),
    # or through the latents: each latent cell is the VAE's encoding of 4x4 pixels and their neighbours,
    # so a person's cells carry some of the scene around them. Composites in latent space tell the two
    # apart: the renders' scene cells swapped for those of the same render with the identity's own scene
    "to_out_scene_cells_fixed": Variant(scene_cells_from="fixed", finetune={"targets": ["to_out.0"]}),
    "to_out_person_cells_fixed": Variant(scene_cells_from="drawn", finetune={"targets": ["to_out.0"]}),
    "to_out_core_bg0": Variant(person_core=True,
                               finetune={"targets": ["to_out.0"], "background_weight": 0.0}),
}
POSE_FIELDS = ("rotation_deg", "scale", "brightness", "light_strength", "smile")


def nuisance_fixer(identity: Identity, seed: int, scene: bool, pose: bool, pose_scale: float = 1.0
                   ) -> Callable[[Nuisance], Nuisance]:
    """Replace a render's scene (background, clothes) and/or pose (pose, light, smile) with the
    identity's own, drawn once, or move its pose `pose_scale` times as far from the identity's own."""
    own = sample_nuisance(np.random.default_rng([seed, identity.identity_id, STREAM + 1]))
    scene_fields = ("background_top", "background_bottom", "clothes")

    def fix(n: Nuisance) -> Nuisance:
        if pose_scale != 1.0:  # about the identity's own pose: own + s * (drawn - own)
            moved = {k: getattr(own, k) + pose_scale * (getattr(n, k) - getattr(own, k)) for k in POSE_FIELDS}
            moved["light_strength"] = max(0.0, moved["light_strength"])
            moved["shift"] = tuple(o + pose_scale * (d - o) for o, d in zip(own.shift, n.shift, strict=True))
            turn = (n.light_angle - own.light_angle + np.pi) % (2 * np.pi) - np.pi  # the shorter way round
            n = dataclasses.replace(n, **moved, light_angle=own.light_angle + pose_scale * turn)
        if scene and pose:
            return own
        if scene:
            return dataclasses.replace(n, **{k: getattr(own, k) for k in scene_fields})
        if pose:
            return dataclasses.replace(own, **{k: getattr(n, k) for k in scene_fields})
        return n
    return fix


def drawn_nuisances(identity: Identity, n: int, seed: int, stream: int) -> list[Nuisance]:
    """The nuisance of the (seed, id, stream) renders, drawn as `render_identity` draws them."""
    rng = np.random.default_rng([seed, identity.identity_id, stream])
    return [sample_nuisance(rng) for _ in range(n)]


def fixed_renders(identity: Identity, n: int, seed: int, stream: int, size: int,
                  fix: Callable[[Nuisance], Nuisance], painting: bool = False
                  ) -> tuple[np.ndarray, np.ndarray]:
    """n renders (n, size, size, 3) uint8 of the (seed, id, stream) nuisance draws, each through
    `fix`, and their person masks (n, size, size)."""
    nuisances = [fix(x) for x in drawn_nuisances(identity, n, seed, stream)]
    return (np.stack([render_face(identity, x, size, painting) for x in nuisances]),
            np.stack([person_mask(identity, x, size) for x in nuisances]))


def renders(identity: Identity, n: int, seed: int, size: int, v: Variant) -> tuple[np.ndarray, np.ndarray]:
    """(n, size, size, 3) uint8 fresh renders and their person masks (n, size, size)."""
    fix = nuisance_fixer(identity, seed, v.fixed_scene, v.fixed_pose, v.pose_scale)
    return fixed_renders(identity, n, seed, STREAM, size, fix)


def core_cells(masks: np.ndarray, cell: int) -> np.ndarray:
    """(..., S, S) person masks -> the same with each cell x cell patch (one latent cell) set to its
    minimum: a cell is person only where all of it is, so the pooled loss weight ignores edge cells."""
    *lead, s, _ = masks.shape
    blocks = masks.reshape(*lead, s // cell, cell, s // cell, cell).min(axis=(-3, -1))  # (..., h, w)
    return blocks.repeat(cell, axis=-2).repeat(cell, axis=-1)


def composite_latents(drawn: torch.Tensor, fixed: torch.Tensor, masks: torch.Tensor, person_from_drawn: bool
                      ) -> torch.Tensor:
    """Latents (M, n, C, h, w) whose mostly-person cells (half or more person, pooled as the fleet's
    loss pools the masks (M, n, S, S)) come from one set of latents and the rest from the other: the
    drawn renders' person cells in the fixed scene's context (`person_from_drawn`), or the
    fixed-scene renders' person cells in the drawn scene's context."""
    person = person_weights(masks, drawn.shape[-2:], background_weight=0.0) >= 0.5  # (M, n, 1, h, w)
    inside, outside = (drawn, fixed) if person_from_drawn else (fixed, drawn)
    return torch.where(person, inside, outside)


def with_mirrors(x: np.ndarray, n: int) -> np.ndarray:
    """(M, 2n, S, S, ...) halves of n renders -> (M, 4n, ...): each half followed by its mirror images."""
    halves = x.reshape(len(x) * 2, n, *x.shape[2:])                  # (2M, n, ...): a half a row
    return mirrored(halves).reshape(len(x), 4 * n, *x.shape[2:])


def input_side(unet: torch.nn.Module, targets: list[str], rank: int) -> np.ndarray:
    """(D,) True where the flat adapter holds a lora_A (the input side, which starts from the shared
    initialisation), False where a lora_B (which starts at 0): the adapter layout's order."""
    layout = layout_for(unet, tuple(targets), rank)
    return np.concatenate([np.full(math.prod(shape), key.endswith(".lora_A.weight"))
                           for key, shape in zip(layout.keys, layout.shapes, strict=True)])


def measure(name: str, v: Variant, params: Params, pipe, judge: Judge, table: pd.DataFrame, rows: np.ndarray
            ) -> np.ndarray:
    p = params.finetune.model_copy(update=MEASURED_WITH | v.finetune)
    size = params.synthesize.image_size
    identities = identities_from_table(table.iloc[rows])
    drawn = [renders(i, 2 * v.renders_per_half, params.synthesize.seed, size, v) for i in identities]
    images = np.stack([d[0] for d in drawn])                          # (M, 2n, S, S, 3)
    masks = np.stack([d[1] for d in drawn])                          # (M, 2n, S, S)
    if v.person_core:
        masks = core_cells(masks, size // pipe.unet.config.sample_size)
    n = v.renders_per_half
    trained = with_mirrors(images, n) if v.mirrored else images
    masks = torch.from_numpy(with_mirrors(masks, n) if v.mirrored else masks)
    latents = encode_renders(pipe, trained)                           # (M, 2n or 4n, C, h, w)
    if v.scene_cells_from:  # the same draws with each identity's own scene: the same person masks
        fixed = dataclasses.replace(v, fixed_scene=True)
        scene_fixed = np.stack([renders(i, 2 * v.renders_per_half, params.synthesize.seed, size, fixed)[0]
                                for i in identities])
        latents = composite_latents(latents, encode_renders(pipe, scene_fixed), masks,
                                    person_from_drawn=v.scene_cells_from == "fixed")
    n = 2 * n if v.mirrored else n
    ids = [i.identity_id for i in identities]
    a, b = train_halves(pipe, DATA / "base", latents[:, :n], latents[:, n:], ids, p,
                        masks[:, :n], masks[:, n:])
    same, others = adapter_cosines(a, b)
    lo, hi = bootstrap_ci(same)
    raw_same, raw_others = adapter_cosines(a, b, scaled=False)  # centred only: large parameters weigh more
    side = input_side(pipe.unet, p.targets, p.rank)            # each side's own share: A wanders more
    a_share, b_share = (adapter_cosines(a[:, m], b[:, m])[0].mean() if m.any() else float("nan")
                        for m in (side, ~side))
    # how much of the person one render shows the judge, against the other half's renders (a single
    # image is ambiguous only where this falls well below the half-against-half figure)
    half = v.renders_per_half
    one = similarities(judge, images[:, :1], images[:, half:])
    halves = similarities(judge, images[:, :half], images[:, half:])
    one_lo, one_hi = bootstrap_ci(one)
    print(f"{name:12s} identity share {same.mean():.3f} [{lo:.3f}, {hi:.3f}]   "
          f"different identities {others.mean():+.3f}   unscaled {raw_same.mean():.3f} "
          f"(different {raw_others.mean():+.3f})   ({len(rows)} train identities, "
          f"{n} renders per half, {p.draws_per_image} draws each, {p.steps} steps, "
          f"prior {p.prior_weight:g})\n"
          f"{'':12s} by side: lora_A (input) {a_share:.3f}, lora_B (output) {b_share:.3f}\n"
          f"{'':12s} judge: one render vs the other half {one.mean():.3f} [{one_lo:.3f}, {one_hi:.3f}], "
          f"half vs half {halves.mean():.3f}", flush=True)
    return same


def main(argv: list[str]) -> None:
    args = parse_variants(argv, __doc__, VARIANTS, identities=24)
    for needed in (DATA / "base" / "model", DATA / "judge"):
        if not needed.is_dir():
            sys.exit(f"{needed}: missing; run `dvc repro judge` first")
    torch.manual_seed(0)
    table = pd.read_parquet(DATA / "world" / "identities.parquet")
    rows = sample_rows((table["split"] == "heldout").to_numpy(), False, args.identities, seed=17)
    params = load_params()
    pipe = load_pipeline(DATA / "base" / "model")  # once: training leaves the base UNet as it was
    pipe.unet.requires_grad_(False)
    judge = Judge.load(DATA / "judge")
    first = None
    for name in args.variants:
        same = measure(name, VARIANTS[name], params, pipe, judge, table, rows)
        if first is None:
            first = same
        else:  # the same identities: paired
            print(f"{'':12s} vs {args.variants[0]}: {difference(same, first)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
