"""Measuring a base model: attribute fidelity to prompts (by the judge) and held-out loss."""

from __future__ import annotations

import numpy as np
import pandas as pd
from diffusers import StableDiffusionPipeline

from w2w.base.pipeline import generate
from w2w.judge.api import Judge
from w2w.world.captions import caption_for, named_attributes
from w2w.world.identity import ATTRIBUTES


def prompt_fidelity(pipe: StableDiffusionPipeline, judge: Judge, table: pd.DataFrame,
                    samples_per_prompt: int, steps: int, guidance: float, seed: int
                    ) -> tuple[dict[str, float], np.ndarray]:
    """Prompts are the captions of `table`'s identities. A sample agrees with its prompt when the
    judge finds every attribute the prompt names as named. Returns metrics and the images."""
    attrs = [{a: bool(row[a]) for a in ATTRIBUTES} for _, row in table.iterrows()]
    prompts = [caption_for(a) for a in attrs for _ in range(samples_per_prompt)]
    images = generate(pipe, prompts, len(prompts), seed, steps, guidance, progress=True)
    judged = judge.attribute_probabilities(images) > 0.5
    column = {name: j for j, name in enumerate(judge.attribute_names)}
    sample_ok, per_attribute = [], []
    for k, image_attrs in enumerate(judged):
        named = named_attributes(attrs[k // samples_per_prompt])
        hits = [image_attrs[column[a]] == value for a, value in named.items()]
        sample_ok.append(all(hits))
        per_attribute.extend(hits)
    return {"prompt_attribute_fidelity": float(np.mean(sample_ok)),
            "prompt_attribute_agreement": float(np.mean(per_attribute)),
            "prompts": float(len(table)), "samples": float(len(prompts))}, images
