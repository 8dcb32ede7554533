"""How many steps does the miniature base's UNet need? (issue 17: the 60-minute budget)

    python studies/base_steps.py [--identities N] [STEPS[:LR[:HEADS]] ...]
    # default: 32 identities; 3600:0.002:8 2400:0.002:8 4800:0.002:8 3600:0.004:8, the first the
    # baseline (the study that set the lr, on the 8-head UNet of its time)

Train identities only. Each variant trains the base's UNet for STEPS steps (at peak lr LR and with
HEADS attention heads, default params.yaml's) exactly as the base stage does (params.yaml's base
section: the same init, batches and one-cycle schedule, stretched to the steps) on the committed
base's VAE, text encoder and latent cache, and measures the result by:
- prompt fidelity on 64 train identities' captions (evaluate_base's sampler, guidance and rule);
- the base prompted with each identity's caption (the ladder's caption rung), and fleet models
  retrained on that base with the default recipe (as `studies/fleet_fit.py` does), both scored
  against fresh renders by the judge's similarity and the trait error, paired over N train identities.
The variant equal to params.yaml's `unet_steps`, `unet_lr` and `attention_heads` is the committed
base (data/base) itself. Retrained UNets are kept under the ignored studies/runs/ and reused.
Needs `dvc repro judge`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import torch
import zarr
from diffusers import UNet2DConditionModel
from fleet_fit import ci, open_study, retrain  # studies/: the script's folder is first on sys.path

from w2w.atomic import atomic_path
from w2w.base.denoiser import train_unet
from w2w.base.model import build_unet, encode_prompts, sampling_scheduler
from w2w.base.pipeline import assemble_pipeline
from w2w.evaluate.base import prompt_fidelity
from w2w.evaluate.context import Context
from w2w.evaluate.ladder import base_rung, model_rung
from w2w.params import BaseParams, ParamsError, load_params, override
from w2w.world.captions import GENERIC_PROMPT, identity_captions

RUNS = Path("studies/runs")


def variant(text: str, p: BaseParams) -> BaseParams:
    """"2400", "2400:0.004" or "3600:0.004:2": the base section with that many UNet steps (and that
    peak lr, and that many attention heads)."""
    parts = text.split(":")
    try:
        if len(parts) > 3:
            raise ValueError
        steps, lr, heads = parts + [""] * (3 - len(parts))
        update = {"unet_steps": int(steps), "unet_lr": float(lr or p.unet_lr),
                  "attention_heads": int(heads or p.attention_heads)}
    except ValueError:
        sys.exit(f"variant {text!r}: expected STEPS, STEPS:LR or STEPS:LR:HEADS, e.g. 2400 or 3600:0.004:2")
    try:
        return override(p, **update)  # checked as params.yaml is: heads must divide the widths
    except ParamsError as error:
        sys.exit(f"variant {text!r}: {error.problems[0]}")


def trained_unet(ctx: Context, cache: zarr.Array | np.ndarray, p: BaseParams, folder: Path | None = None
                 ) -> UNet2DConditionModel:
    """The base stage's UNet training with `p`'s steps, lr and heads, on a latent cache (N, K, C, h, w)
    in table order (the committed one, or a variant world's, whose held-out rows are never read),
    kept in and reused from `folder` (default: named by the steps, lr and heads)."""
    heads = "" if p.attention_heads == 8 else f"_heads{p.attention_heads}"  # 8: the older runs' names
    folder = folder or RUNS / f"base_unet{p.unet_steps}_lr{p.unet_lr:g}{heads}"
    if (folder / "config.json").is_file():
        return UNet2DConditionModel.from_pretrained(folder).eval().requires_grad_(False)
    train = (ctx.table["split"] == "train").to_numpy()
    pipe = ctx.pipe
    embeddings = encode_prompts(pipe.text_encoder, pipe.tokenizer,
                                ["", GENERIC_PROMPT, *identity_captions(ctx.world, ctx.table)])
    latents = np.asarray(cache[:])  # (N, K, C, h, w)
    train_latents = torch.from_numpy(latents[train].reshape(-1, *latents.shape[2:]))  # (M, C, h, w)
    caption_idx = np.repeat(np.flatnonzero(train), latents.shape[1])
    start = time.perf_counter()
    unet = train_unet(build_unet(p, latents.shape[-1]), train_latents, caption_idx, embeddings, p)
    print(f"unet {p.unet_steps} steps, {p.attention_heads} heads: trained in "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    with atomic_path(folder, is_dir=True) as tmp:  # an interrupted save leaves no folder that loads
        unet.save_pretrained(tmp, safe_serialization=True)
    return unet.requires_grad_(False)


def with_unet(ctx: Context, unet: UNet2DConditionModel) -> Context:
    pipe = ctx.pipe
    return dataclasses.replace(ctx, pipe=assemble_pipeline(pipe.vae, pipe.text_encoder, pipe.tokenizer,
                                                           unet, sampling_scheduler()))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("variants", nargs="*",
                        default=["3600:0.002:8", "2400:0.002:8", "4800:0.002:8", "3600:0.004:8"])
    parser.add_argument("--identities", type=int, default=32)
    args = parser.parse_args(argv)
    params = load_params()
    variants = [variant(text, params.base) for text in args.variants]  # bad input exits here, first
    committed, latents, rows, references, truth = open_study(args.identities)  # fleet_fit's identities
    p, pb = params.evaluate_inversion, params.evaluate_base
    captions = identity_captions(committed.world, committed.table.iloc[rows])
    prompted = committed.table.iloc[committed.rows(False, pb.prompts, pb.seed)].reset_index(drop=True)
    first = None
    for pv in variants:
        unet = committed.pipe.unet if pv == params.base else trained_unet(committed, latents, pv)
        ctx = with_unet(committed, unet)
        fidelity, _ = prompt_fidelity(ctx.pipe, ctx.judge, prompted, pb.samples_per_prompt,
                                      pb.sampler_steps, pb.guidance_scale, pb.seed)
        start = time.perf_counter()
        adapters, trained = retrain(ctx, latents, rows, {})
        fleet_seconds = time.perf_counter() - start
        with torch.no_grad():
            caption = base_rung(ctx, "caption", captions, references, truth, p)
            fleet = model_rung(trained, "fleet", adapters, references, truth, p)
        lo, hi = fidelity["prompt_attribute_fidelity_ci"]
        print(f"unet {pv.unet_steps} steps, lr {pv.unet_lr:g}, {pv.attention_heads} heads: train-caption "
              f"fidelity {fidelity['prompt_attribute_fidelity']:.3f} [{lo:.3f}, {hi:.3f}]; fleet of "
              f"{len(rows)} retrained in {fleet_seconds:.0f} s", flush=True)
        first = first or {"caption": caption, "fleet": fleet}
        for kind, rung in (("caption", caption), ("fleet", fleet)):
            d_sim = rung.similarity - first[kind].similarity
            d_err = rung.trait_error - first[kind].trait_error
            print(f"  {kind:8s} similarity {rung.similarity.mean():.3f} {ci(rung.similarity)}   trait error "
                  f"{rung.trait_error.mean():.3f} {ci(rung.trait_error)}   vs {args.variants[0]}: "
                  f"{d_sim.mean():+.3f} {ci(d_sim)}, trait {d_err.mean():+.3f} {ci(d_err)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
