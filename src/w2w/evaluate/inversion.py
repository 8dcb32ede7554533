"""Single-image inversion into the space against an unconstrained single-image LoRA.

For each held-out identity, one image (a normal render, or the world's "painting" of it) is turned
into a model two ways with the same step budget (steps x noise draws of the one image per step):
- w2w: only the PCA coefficients are optimised (`invert_batch`);
- single-image LoRA: the full rank-1 adapter, trained like a fleet identity on that one image.
Each model is scored by the judge on its samples (several prompts and seeds) against fresh renders
of the identity (identity similarity) and against its true attributes (agreement). The fleet's
own model of the identity (trained on all its images) is scored too, as the reference.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from w2w.adapters.render import render_models
from w2w.base.latents import encode_images
from w2w.base.model import encode_prompts, training_scheduler
from w2w.evaluate.context import Context
from w2w.evaluate.finetune import reference_renders
from w2w.evaluate.judged import judged_attributes
from w2w.fleet.config import fleet_config
from w2w.fleet.train import train_identities
from w2w.params import EvaluateInversionParams, FinetuneParams
from w2w.space.basis import Basis
from w2w.space.invert import invert_batch


def single_image_lora(ctx: Context, images: np.ndarray, ids: list[int], p: EvaluateInversionParams,
                      fp: FinetuneParams) -> np.ndarray:
    """(K, D) adapters, each trained on one image for p.steps steps of p.draws_per_step draws."""
    latents = torch.from_numpy(encode_images(ctx.pipe.vae, images))            # (K, C, h, w)
    block = latents[:, None].expand(-1, p.draws_per_step, -1, -1, -1).contiguous()  # (K, n, C, h, w)
    context = encode_prompts(ctx.pipe.text_encoder, ctx.pipe.tokenizer, [fp.prompt])[0]
    cfg = dataclasses.replace(fleet_config(fp), steps=p.steps, images_per_step=0, prior_weight=0.0)
    weights, _ = train_identities(ctx.pipe.unet, training_scheduler(), block, ids, context, cfg)
    return ctx.layout.flatten(weights, stacked=True)


def w2w_inversion(ctx: Context, basis: Basis, images: np.ndarray, p: EvaluateInversionParams,
                  fp: FinetuneParams) -> np.ndarray:
    coefficients = invert_batch(ctx.pipe, basis, ctx.layout, fp.rank, fp.lora_alpha, images, fp.prompt,
                                p.components or basis.k, p.steps, p.lr, p.seed, p.draws_per_step)
    return basis.to_weights(coefficients)


def score_models(ctx: Context, adapters: np.ndarray, renders: np.ndarray, truth: np.ndarray,
                 p: EvaluateInversionParams, desc: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per model: identity similarity to its renders, attribute agreement; and its samples."""
    samples = np.concatenate([render_models(ctx.pipe, adapters, ctx.layout, ctx.scaling, prompt,
                                            p.samples_per_prompt, p.seed, p.sampler_steps,
                                            p.guidance_scale, desc=desc) for prompt in p.prompts], 1)
    similarity = np.array([ctx.judge.identity_similarity(s, r)
                           for s, r in zip(samples, renders, strict=True)])
    agreement = (judged_attributes(ctx.judge, samples) == truth).mean(1)
    return similarity, agreement, samples


def measure_inversion(ctx: Context, basis: Basis, p: EvaluateInversionParams,
                      fp: FinetuneParams) -> tuple[dict, np.ndarray]:
    """Metrics and a grid (identity rows: input, w2w sample, LoRA sample, per setting; a render)."""
    held = np.flatnonzero(ctx.heldout)[: p.identities]
    table = ctx.table.iloc[held]
    renders = reference_renders(table, p.renders_per_identity, p.seed, ctx.image_size)
    truth = table[ctx.judge.attribute_names].to_numpy(dtype=bool)
    inputs = {"in_distribution": np.asarray(ctx.images.get_orthogonal_selection((held, 0))),
              "ood": np.asarray(ctx.ood[: len(held), 0])}
    ids = table["identity_id"].tolist()
    metrics: dict = {"w2w": {}, "single_image_lora": {}, "identities": len(held)}
    columns = [renders[:, 0]]
    for setting, images in inputs.items():
        for method, adapters in (("w2w", w2w_inversion(ctx, basis, images, p, fp)),
                                 ("single_image_lora", single_image_lora(ctx, images, ids, p, fp))):
            sim, agree, samples = score_models(ctx, adapters, renders, truth, p, f"{method} {setting}")
            metrics[method][setting] = float(sim.mean())
            metrics[method][f"{setting}_attribute_agreement"] = float(agree.mean())
            columns += [images, samples[:, 0]] if method == "w2w" else [samples[:, 0]]
    sim, agree, _ = score_models(ctx, ctx.adapters(held), renders, truth, p, "fleet")
    metrics["fleet_model"] = {"similarity": float(sim.mean()), "attribute_agreement": float(agree.mean())}
    for setting in inputs:
        metrics[f"w2w_minus_lora_{setting}"] = metrics["w2w"][setting] - metrics["single_image_lora"][setting]
    return metrics, np.stack(columns, 1)  # (K, 1 + 2 * 3, S, S, 3)
