"""The `evaluate_base` stage's library: attribute fidelity to prompts (by the judge), held-out
denoising loss and a sample grid of the saved base model."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import zarr
from diffusers import StableDiffusionPipeline
from PIL import Image

from w2w.base.build import open_world
from w2w.base.denoiser import heldout_loss
from w2w.base.model import encode_prompts
from w2w.base.pipeline import generate, load_pipeline
from w2w.evaluate.stats import bootstrap_ci, paired_difference_ci, sample_rows
from w2w.judge.api import Judge
from w2w.params import EvaluateBaseParams
from w2w.world.captions import caption_for, identity_captions, named_attributes
from w2w.world.dataset import contact_sheet


def named_hits(judged: np.ndarray, attributes: dict[str, bool], column: dict[str, int]) -> dict[str, bool]:
    """Per attribute the caption of `attributes` names: whether the judge's reading of one image,
    judged (A,) bool in `column` order, has it as named (the fidelity rule)."""
    return {a: bool(judged[column[a]] == value) for a, value in named_attributes(attributes).items()}


def prompt_fidelity(pipe: StableDiffusionPipeline, judge: Judge, table: pd.DataFrame,
                    samples_per_prompt: int, steps: int, guidance: float, seed: int
                    ) -> tuple[dict[str, float], np.ndarray]:
    """Prompts are the captions of `table`'s identities. A sample agrees with its prompt when the
    judge finds every attribute the prompt names as named. Returns metrics and the images. Where
    the judge reads attributes with its attribute reader, the same images are also read by the
    judge's own head (`..._judge_head`, and the paired difference): what the reader changed."""
    attrs = [{a: bool(row[a]) for a in judge.attribute_names} for _, row in table.iterrows()]
    prompts = [caption_for(a) for a in attrs for _ in range(samples_per_prompt)]
    images = generate(pipe, prompts, len(prompts), seed, steps, guidance, progress=True)
    column = {name: j for j, name in enumerate(judge.attribute_names)}

    def read(judged: np.ndarray) -> tuple[np.ndarray, list[bool]]:
        """Whether each sample is right on every attribute its prompt names (L, samples); every hit."""
        sample_ok, hits = [], []
        for i, image_attrs in enumerate(judged):
            named = list(named_hits(image_attrs, attrs[i // samples_per_prompt], column).values())
            sample_ok.append(all(named))
            hits.extend(named)
        return np.reshape(sample_ok, (len(table), samples_per_prompt)), hits

    per_prompt, hits = read(judge.attribute_probabilities(images) > 0.5)   # one prompt per identity
    out = {"prompt_attribute_fidelity": float(np.mean(per_prompt.ravel())),
           "prompt_attribute_fidelity_ci": list(bootstrap_ci(per_prompt, seed)),
           "prompt_attribute_agreement": float(np.mean(hits)),
           "prompts": float(len(table)), "samples": float(len(prompts))}
    if judge.has_attribute_reader:
        own, _ = read(judge.own_head().attribute_probabilities(images) > 0.5)
        out |= {"prompt_attribute_fidelity_judge_head": float(np.mean(own.ravel())),
                "prompt_attribute_fidelity_judge_head_ci": list(bootstrap_ci(own, seed)),
                "prompt_attribute_fidelity_reader_minus_judge_head_ci":
                    list(paired_difference_ci(per_prompt, own, seed))}
    return out, images


def measure_base(world: Path, judge_dir: Path, base: Path, p: EvaluateBaseParams, grid: Path
                 ) -> dict[str, float]:
    """Reload the saved folder strictly, then: prompt fidelity, held-out loss, sample grid."""
    pipe = load_pipeline(base / "model")
    table, _, train = open_world(world)
    heldout = table[~train].reset_index(drop=True)
    judge = Judge.load(judge_dir)
    chosen = table.iloc[sample_rows(~train, True, p.prompts, p.seed)].reset_index(drop=True)
    start = time.perf_counter()
    metrics, images = prompt_fidelity(pipe, judge, chosen, p.samples_per_prompt,
                                      p.sampler_steps, p.guidance_scale, p.seed)
    metrics["generation_s_per_image"] = (time.perf_counter() - start) / len(images)
    rows, cols = min(8, len(chosen)), p.samples_per_prompt
    contact_sheet(images[: rows * cols], rows, cols).resize(
        (cols * 96, rows * 96), Image.Resampling.NEAREST).save(grid)
    latents = zarr.open_group(base / "latents.zarr", mode="r")["latents"]
    held_latents = torch.from_numpy(np.asarray(latents[:])[~train])
    per_identity = held_latents.shape[1]  # latents (images) of each identity
    context = encode_prompts(pipe.text_encoder, pipe.tokenizer, identity_captions(world, heldout))
    metrics["heldout_denoising_loss"] = heldout_loss(
        pipe.unet, held_latents.flatten(0, 1), context.repeat_interleave(per_identity, 0), p.seed)
    return metrics
