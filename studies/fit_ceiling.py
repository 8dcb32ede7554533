"""How far can a model of this base hold its person, compute no object? (issue 17)

    python studies/fit_ceiling.py [--identities N] [VARIANT ...]   # default: 32 identities, all variants

The held-out fleet's trait error (0.73) sits far above its renders' (0.44), the goal asks 0.35, and
no recipe change has moved it by more than a few hundredths. This study asks where that gap lives:
in the fleet's compute (70 steps), in its data (8 renders, whose nuisance an adapter memorises), in
the adapter's size and place (rank 1 on the value projections), in the sampler, or in the base itself. Each
variant fits a seeded sample of TRAIN identities (never held-out; `fleet_fit.py`'s sample) with
more of one of those, up to the whole UNet fine-tuned on 64 renders, and is sampled and scored as
the ladder's model rungs are (the inversion's prompts, seeds and guidance unless the variant
changes the sampler; the judge's similarity and the trait error against fresh renders). The
variants share identities, references and sampling noise, so their differences are paired against
the first (the committed recipe). The floor is as many other renders through the base's VAE as a
model has samples; the last table is each trait's error. Each variant's models are also sampled as
evaluate_sampling samples the trained models (the fleet's prompt, 4 seeds), and their consistency
across seeds read as it reads it (the mean judge cosine between a model's samples; for the floor,
between its renders). About 120 minutes for every variant on 2
cores (the whole UNet about 16 to 23 minutes a learning rate, the 600-step adapters 9 to 20). Needs
`dvc repro judge`.
"""

from __future__ import annotations

import copy
import dataclasses
import sys

import numpy as np
import pandas as pd
import torch
from fleet_fit import PERSON_T400, ci, difference, open_study, retrain, world_latents, world_masks
from tqdm import tqdm
from variants import parse_variants

from w2w.adapters.lora import layout_for
from w2w.adapters.render import render_models
from w2w.base.latents import round_trip
from w2w.base.model import encode_prompts, training_scheduler
from w2w.evaluate.judged import standard_traits
from w2w.evaluate.ladder import sample_models, scored
from w2w.evaluate.sampling import consistency
from w2w.fleet.train import draw_batch, identity_generator, per_sample_mse, person_weights, step_lr
from w2w.judge.api import TRAIT_COLUMNS
from w2w.params import load_params
from w2w.world.references import identity_probes

COMMITTED = PERSON_T400 | {"draws_per_image": 2, "targets": ["to_v"]}  # params.yaml's finetune when measured
# (to_out.0 since: the variant rank1_to_out); each variant's figures pair against this one
QKVO = COMMITTED | {"renders": 64, "images_per_step": 16, "steps": 600, "lr_schedule": "cosine", "rank": 4,
                    "lora_alpha": 108.0, "targets": ["to_q", "to_k", "to_v", "to_out.0"]}  # scaling 27 kept
VARIANTS: dict[str, dict] = {  # LoRA variants: overrides of params.yaml's finetune (fleet_fit's retrain)
    "committed": COMMITTED,
    "steps200": COMMITTED | {"steps": 200},                     # compute: about 3x
    "steps600": COMMITTED | {"steps": 600, "lr_schedule": "cosine"},  # about 9x, decayed to settle
    # data: 64 renders, 16 of them a step, so the nuisance averages out (about 17x)
    "renders64_steps600": COMMITTED | {"renders": 64, "images_per_step": 16, "steps": 600,
                                       "lr_schedule": "cosine"},
    # size: rank 4 on q, k, v and out of every attention layer (21,504 parameters, about 17x)
    "qkvo_rank4_renders64_steps600": QKVO,
    # the same at a smaller step: at the fleet's lr 0.01 its 56 layers' adapters lose the person
    "qkvo_rank4_renders64_steps600_lr3e-3": QKVO | {"lr": 3e-3},
    # which projection carries the geometry: rank 1 on another target, the committed compute
    **{f"rank1_{'_'.join(t).replace('.0', '')}": COMMITTED | {"targets": t}
       for t in (["to_q"], ["to_k"], ["to_out.0"], ["to_q", "to_v"], ["to_v", "to_out.0"])},
    # more room on the output projections, the scaling kept (27)
    "rank2_to_out": COMMITTED | {"targets": ["to_out.0"], "rank": 2, "lora_alpha": 54.0},
    # the committed target's rank 1 at more steps: 100 about what the run's budget could still give the fleet
    "rank1_to_out_steps100": COMMITTED | {"targets": ["to_out.0"], "steps": 100},
    "rank1_to_out_steps50": COMMITTED | {"targets": ["to_out.0"], "steps": 50},  # the budget's fewer steps
    "rank1_to_out_steps200": COMMITTED | {"targets": ["to_out.0"], "steps": 200},
    # the committed target's rank 1 at the QKVO rank-4 variant's compute and data: room or compute?
    "rank1_to_out_renders64_steps600": COMMITTED | {
        "targets": ["to_out.0"], "renders": 64, "images_per_step": 16, "steps": 600, "lr_schedule": "cosine"},
    # the other outputs into the residual stream: the feed-forward's (ff.net.2, 1,760 parameters at rank 1)
    # and its input (ff.net.0.proj, GEGLU's, 3,168), alone and beside to_out.0; and to_out.0 of one
    # attention only, self (attn1) or cross (attn2), 704 each
    **{f"rank1_{name}": COMMITTED | {"targets": t} for name, t in (
        ("ff2", ["ff.net.2"]), ("ff0", ["ff.net.0.proj"]), ("to_out_ff2", ["to_out.0", "ff.net.2"]),
        ("attn1_out", ["attn1.to_out.0"]), ("attn2_out", ["attn2.to_out.0"]))},
    # the base: every weight of the UNet fine-tuned (DreamBooth without a prior), same data and loss
    "whole_unet_lr1e-4": {"whole_unet": True, "lr": 1e-4},
    "whole_unet_lr4e-4": {"whole_unet": True, "lr": 4e-4},
    # the sampler (evaluate_inversion's 20 DDIM steps at guidance 2): more steps, other guidance
    "committed_sampler50": COMMITTED | {"sampler": {"sampler_steps": 50}},
    "committed_guidance1": COMMITTED | {"sampler": {"guidance_scale": 1.0}},
    "committed_guidance4": COMMITTED | {"sampler": {"guidance_scale": 4.0}},
}
# the whole UNet's data and steps: half the LoRA's 600, at about 0.1 s a step on 2 cores
WHOLE = {"renders": 64, "images_per_step": 16, "steps": 300}


def train_whole_unet(unet: torch.nn.Module, context: torch.Tensor, latents: torch.Tensor, masks: torch.Tensor,
                     identity_id: int, lr: float) -> torch.nn.Module:
    """A copy of `unet` with every weight fine-tuned on one identity's latents (n, C, h, w) and person
    masks (n, S, S) by the fleet's loss (the prompt's context (L, D), its timesteps, draws and scene
    weight; cosine-decayed AdamW, clipped)."""
    p = load_params().finetune
    model = copy.deepcopy(unet).requires_grad_(True).train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=p.weight_decay)
    scheduler = training_scheduler()
    g = [identity_generator(p.seed, identity_id)]
    weights = person_weights(masks[None], latents.shape[-2:], p.background_weight)[0]  # (n, 1, h, w)
    span = tuple(p.timestep_range)
    for step in range(WHOLE["steps"]):
        for group in opt.param_groups:
            group["lr"] = step_lr(lr, "cosine", step, WHOLE["steps"])
        x0, noise, t, picks = draw_batch(g, latents[None], WHOLE["images_per_step"], span, p.timesteps,
                                         p.draws_per_image)                          # (B, C, h, w)
        pred = model(scheduler.add_noise(x0, noise, t), t,
                     encoder_hidden_states=context.expand(len(x0), *context.shape)).sample
        w = weights[picks]                                                            # (B, 1, h, w)
        loss = per_sample_mse(pred, noise, w).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), p.grad_clip)
        opt.step()
    return model.eval().requires_grad_(False)


def whole_unet_samples(ctx, rows: np.ndarray, lr: float, p) -> tuple[np.ndarray, np.ndarray]:
    """(M, n, S, S, 3): each identity's whole-UNet model sampled as model_rung samples adapters (a
    zero adapter on the fine-tuned UNet, the same prompts and noise); and as `seed_samples`."""
    context = encode_prompts(ctx.pipe.text_encoder, ctx.pipe.tokenizer, [load_params().finetune.prompt])[0]
    ids = ctx.table["identity_id"].to_numpy()[rows].tolist()
    latents = world_latents(ctx, rows, WHOLE["renders"])                              # (M, n, C, h, w)
    masks = world_masks(ctx, rows, WHOLE["renders"])
    base, out, seeds = ctx.pipe.unet, [], []
    ctx = dataclasses.replace(ctx, layout=layout_for(base, ("to_v",), 1), scaling=1.0)  # a zero adapter
    zero = np.zeros((1, ctx.layout.dim), dtype=np.float32)
    try:
        for i in tqdm(range(len(rows)), desc=f"whole UNet lr {lr:g}", unit="identity"):
            with torch.enable_grad():
                ctx.pipe.unet = train_whole_unet(base, context, latents[i], masks[i], ids[i], lr)
            with torch.no_grad():
                out.append(sample_models(ctx, zero, p, "sample")[0])
                seeds.append(seed_samples(ctx, zero)[0])
    finally:
        ctx.pipe.unet = base
    return np.stack(out), np.stack(seeds)


def seed_samples(ctx, adapters: np.ndarray) -> np.ndarray:
    """(M, k, S, S, 3): models (M, D) sampled as evaluate_sampling samples the trained models whose
    consistency across seeds it reports (the fleet's prompt, its seeds, steps and guidance). The
    ladder's samples share their seeds between its two prompts, so they cannot read it."""
    params = load_params()
    sp = params.evaluate_sampling
    return render_models(ctx.pipe, adapters, ctx.layout, ctx.scaling, params.finetune.prompt,
                         sp.samples_per_model, sp.seed, sp.sampler_steps, sp.guidance_scale, desc="seeds")


def per_trait_errors(judge, images: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(M, T) each identity's absolute error per trait, population sds, of its images' mean estimate
    (the trait error is their mean over T)."""
    return np.abs(standard_traits(judge, images) - truth / np.asarray(judge.config["trait_std"]))


def scores(rung, consistent: np.ndarray) -> str:
    return (f"similarity {rung.similarity.mean():.3f} {ci(rung.similarity)}   "
            f"trait error {rung.trait_error.mean():.3f} {ci(rung.trait_error)}   "
            f"consistency {consistent.mean():.3f} {ci(consistent)}")


def samples_of(ctx, latents, rows: np.ndarray, variant: dict, p) -> tuple[np.ndarray, np.ndarray]:
    """(M, n, S, S, 3): the variant's models of table rows `rows`, sampled as the ladder samples;
    and (M, k, S, S, 3) as `seed_samples`."""
    sampler = p.model_copy(update=variant.get("sampler", {}))
    if variant.get("whole_unet"):
        return whole_unet_samples(ctx, rows, variant["lr"], sampler)
    adapters, trained = retrain(ctx, latents, rows, {k: v for k, v in variant.items() if k != "sampler"})
    with torch.no_grad():
        return sample_models(trained, adapters, sampler, "sample"), seed_samples(trained, adapters)


def main(argv: list[str]) -> None:
    args = parse_variants(argv, __doc__, VARIANTS, identities=32)
    ctx, latents, rows, references, truth = open_study(args.identities)
    p = load_params().evaluate_inversion
    n = p.samples_per_prompt * len(p.prompts)  # a model's samples
    probes = identity_probes(ctx.world, ctx.table.iloc[rows], n, p.seed + 1)
    with torch.no_grad():  # as many other renders as a model has samples, through the VAE: their floor
        trips = round_trip(ctx.pipe.vae, probes.reshape(-1, *probes.shape[2:])).reshape(probes.shape)
    floor = scored(ctx, "renders", trips, references, truth)
    print(f"{f'{n} renders through the VAE':30s} {scores(floor, consistency(ctx, trips))}", flush=True)
    first, per_trait = None, {"references": per_trait_errors(ctx.judge, references, truth),
                              f"{n} renders, VAE": per_trait_errors(ctx.judge, trips, truth)}
    for name in args.variants:
        images, seeds = samples_of(ctx, latents, rows, VARIANTS[name], p)
        rung, consistent = scored(ctx, name, images, references, truth), consistency(ctx, seeds)
        per_trait[name] = per_trait_errors(ctx.judge, images, truth)
        line = f"{name:30s} {scores(rung, consistent)}"
        if first is None:
            first = rung, consistent
        else:
            line += (f"   vs {args.variants[0]}: {difference(rung.similarity, first[0].similarity)}, "
                     f"trait {difference(rung.trait_error, first[0].trait_error)}, "
                     f"consistency {difference(consistent, first[1])}")
        print(line + f"   ({len(rows)} train identities)", flush=True)
    print("\nper trait, mean absolute error (population sds) over the identities; references: the 8 fresh "
          "renders the models are scored against")
    table = pd.DataFrame({k: v.mean(0) for k, v in per_trait.items()}, index=TRAIT_COLUMNS)
    print(table.round(3).to_string())


if __name__ == "__main__":
    main(sys.argv[1:])
