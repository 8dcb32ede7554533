"""Single-image inversion into the space against an unconstrained single-image LoRA.

For each held-out identity, one image (a normal render, the world's "painting" of it, and in the
miniature world the render with part of the person hidden, `w2w.evaluate.occluder`) is turned into a
model two ways with the same step budget (steps x noise draws of the one image per step):
- w2w: only the PCA coefficients are optimised (`invert_batch`);
- single-image LoRA: the full rank-1 adapter, trained like a fleet identity on that one image.
Both draw their noise timesteps where the fleet trains (`finetune.timestep_range`), and end as it
does (`finetune.lr_schedule`, `finetune.average_tail`). From the occluded render both weight the
loss to the visible person as the fleet weights it (`finetune.background_weight`, the occluder
counted as scene): the reference's "masked to the face" option.
Each model is scored by the judge on its samples (several prompts and seeds) against fresh renders
of the identity (identity similarity) and against its true attributes (agreement). The fleet's
own model of the identity (trained on all its images) is scored too, as the reference.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from w2w.base.latents import encode_images
from w2w.base.model import encode_prompts, training_scheduler
from w2w.evaluate.context import Context
from w2w.evaluate.judged import judged_attributes, realistic_fractions, similarities, trait_errors, truth_of
from w2w.evaluate.ladder import Rung, sample_models, scored
from w2w.evaluate.occluder import PLACES, occluded_first_renders
from w2w.evaluate.stats import paired, with_ci
from w2w.fleet.config import fleet_config
from w2w.fleet.train import scene_weighted, train_identities
from w2w.params import EvaluateInversionParams, FinetuneParams
from w2w.space.basis import Basis
from w2w.space.invert import invert_batch
from w2w.world.references import identity_references


@dataclass
class Scored:
    """Per model (M,): judge similarity, trait error, attribute agreement, share of samples that look
    like renders (None: no style head); and its samples."""

    similarity: np.ndarray
    trait_error: np.ndarray
    agreement: np.ndarray
    samples: np.ndarray  # (M, n, S, S, 3)
    realistic: np.ndarray | None = None


def single_image_lora(ctx: Context, images: np.ndarray, ids: list[int], p: EvaluateInversionParams,
                      fp: FinetuneParams, person: np.ndarray | None = None) -> np.ndarray:
    """(K, D) adapters, each trained on one image for p.steps steps of p.draws_per_step draws.
    `person` (K, S, S): each image's person mask, which weights the loss as the fleet's
    (`fp.background_weight` for the scene); None: the plain loss."""
    latents = torch.from_numpy(encode_images(ctx.pipe.vae, images))            # (K, C, h, w)
    block = latents[:, None].expand(-1, p.draws_per_step, -1, -1, -1).contiguous()  # (K, n, C, h, w)
    masks = (None if person is None else
             torch.from_numpy(person)[:, None].expand(-1, p.draws_per_step, -1, -1))  # (K, n, S, S)
    context = encode_prompts(ctx.pipe.text_encoder, ctx.pipe.tokenizer, [fp.prompt])[0]
    cfg = dataclasses.replace(fleet_config(fp), steps=p.steps, images_per_step=0, draws=1,
                              pairing="independent", prior_weight=0.0,  # the block holds the draws
                              background_weight=1.0 if person is None else fp.background_weight)
    weights, _ = train_identities(ctx.pipe.unet, training_scheduler(), block, ids, context, cfg, masks=masks)
    return ctx.layout.flatten(weights, stacked=True)


def w2w_inversion(ctx: Context, basis: Basis, images: np.ndarray, p: EvaluateInversionParams,
                  fp: FinetuneParams, person: np.ndarray | None = None) -> np.ndarray:
    """(K, D) models of `images` in the space; `person` as `single_image_lora`'s."""
    return basis.to_weights(w2w_coefficients(ctx, basis, images, p, fp, person))


def w2w_coefficients(ctx: Context, basis: Basis, images: np.ndarray, p: EvaluateInversionParams,
                     fp: FinetuneParams, person: np.ndarray | None = None) -> np.ndarray:
    """(K, basis.k) the coefficients `w2w_inversion` finds for `images`."""
    # at the fleet's training timesteps, as the LoRA: on 16 train identities [400, 1000) against all
    # 1000 gained +0.098 [0.043, 0.150] similarity, -0.067 trait error (studies/train_choices.py timesteps)
    mask = None if person is None else scene_weighted(person, fp.background_weight)
    return invert_batch(ctx.pipe, basis, ctx.layout, fp.rank, fp.lora_alpha, images, fp.prompt,
                        p.components or basis.k, p.steps, p.lr, p.seed, p.draws_per_step,
                        mask=mask, timestep_range=tuple(fp.timestep_range),
                        lr_schedule=fp.lr_schedule, average_tail=fp.average_tail)


def score_models(ctx: Context, adapters: np.ndarray, renders: np.ndarray, truth: np.ndarray,
                 traits: np.ndarray, p: EvaluateInversionParams, desc: str) -> Scored:
    """Each model's samples judged against its identity: renders (M, r, ...), attributes (M, A),
    traits (M, T)."""
    samples = sample_models(ctx, adapters, p, desc)
    return Scored(similarities(ctx.judge, samples, renders), trait_errors(ctx.judge, samples, traits),
                  (judged_attributes(ctx.judge, samples) == truth).mean(1), samples,
                  realistic_fractions(ctx.judge, samples))


NAMES = {("w2w", "in_distribution"): "w2w inversion",
         ("single_image_lora", "in_distribution"): "single-image LoRA",
         ("w2w", "ood"): "w2w inversion from the painting",
         ("single_image_lora", "ood"): "single-image LoRA from the painting",
         ("w2w", "occluded"): "w2w inversion from the occluded render",
         ("single_image_lora", "occluded"): "single-image LoRA from the occluded render"}
INPUT_NAMES = {"in_distribution": "one render (the single-image input)",
               "ood": "the painting (the out-of-distribution input)",
               "occluded": "the occluded render (part of the person hidden)"}


def measure_inversion(ctx: Context, basis: Basis, held: np.ndarray, p: EvaluateInversionParams,
                      fp: FinetuneParams, render_seed: int | None = None
                      ) -> tuple[dict, np.ndarray, list[Rung]]:
    """For held-out rows `held`: metrics, a grid (identity rows: a render, then input, w2w sample,
    LoRA sample per setting) and the ladder's rungs these models stand on, with their inputs: how
    much of the identity one image shows the judge decides whether one image can be ambiguous.
    `render_seed`: the miniature world's `synthesize.seed`, which adds the occluded render as a third
    input (its occluders seeded by `p.seed`); None (a folder of photos, which has no person masks):
    the render and the painting only."""
    table = ctx.table.iloc[held]
    renders = identity_references(ctx.world, table, p.renders_per_identity, p.seed)
    truth = table[ctx.judge.attribute_names].to_numpy(dtype=bool)
    traits = truth_of(table)
    heldout_index = np.cumsum(ctx.heldout) - 1  # row -> index among the held-out rows (for ood)
    inputs = {"in_distribution": np.asarray(ctx.images.get_orthogonal_selection((held, 0))),
              "ood": np.asarray(ctx.ood.get_orthogonal_selection((heldout_index[held], 0)))}
    person = {}  # setting -> the person masks (K, S, S) its loss is weighted to
    if render_seed is not None:
        inputs["occluded"], person["occluded"], places = occluded_first_renders(
            table, inputs["in_distribution"], render_seed, p.seed)
    ids = table["identity_id"].tolist()
    metrics: dict = {"w2w": {}, "single_image_lora": {}, "identities": len(held)}
    if render_seed is not None:
        metrics["occluder_places"] = {place: places.count(place) for place in PLACES}
    columns, scores = [renders[:, 0]], {}
    rungs = [scored(ctx, INPUT_NAMES[setting], images[:, None], renders, traits)
             for setting, images in inputs.items()]
    for setting, images in inputs.items():
        mask = person.get(setting)
        for method, adapters in (("w2w", w2w_inversion(ctx, basis, images, p, fp, mask)),
                                 ("single_image_lora", single_image_lora(ctx, images, ids, p, fp, mask))):
            s = score_models(ctx, adapters, renders, truth, traits, p, f"{method} {setting}")
            scores[method, setting] = s
            metrics[method].update({**with_ci(setting, s.similarity),
                                    **with_ci(f"{setting}_trait_error", s.trait_error),
                                    **with_ci(f"{setting}_attribute_agreement", s.agreement),
                                    **with_ci(f"{setting}_realistic", s.realistic)})
            rungs.append(Rung(NAMES[method, setting], s.similarity, s.trait_error))
            columns += [images, s.samples[:, 0]] if method == "w2w" else [s.samples[:, 0]]
    fleet = score_models(ctx, ctx.adapters(held), renders, truth, traits, p, "fleet")
    metrics["fleet_model"] = {**with_ci("similarity", fleet.similarity),
                              **with_ci("trait_error", fleet.trait_error),
                              **with_ci("attribute_agreement", fleet.agreement),
                              **with_ci("realistic", fleet.realistic)}
    rungs.append(Rung("fleet model (held-out identity)", fleet.similarity, fleet.trait_error))
    for setting in inputs:  # paired over identities: the same image went into both methods
        w2w, lora = scores["w2w", setting], scores["single_image_lora", setting]
        metrics[f"w2w_minus_lora_{setting}"] = paired("similarity", w2w.similarity, lora.similarity)
        metrics[f"w2w_minus_lora_{setting}"].update(
            paired("trait_error", w2w.trait_error, lora.trait_error))
        metrics[f"w2w_minus_lora_{setting}"].update(paired("realistic", w2w.realistic, lora.realistic))
    return metrics, np.stack(columns, 1), rungs  # grid (K, 1 + 3 * settings, S, S, 3)
