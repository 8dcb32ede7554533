"""What `w2w explore` does, without the web page: one loaded space, and the actions on a model.

A model is a flat adapter vector (D,). The page keeps two of them per visitor: the model picked,
sampled or inverted (`start`), and the sliders' edit of it (`edit`). Everything heavy (the pipeline,
the basis, the directions, the judge) is loaded once, in `ExploreSpace.open`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import zarr

from w2w.adapters.files import LORA_WEIGHTS, export_lora
from w2w.base.pipeline import load_pipeline
from w2w.judge.api import Judge
from w2w.params import PreviewParams
from w2w.space.delayed import model_samples
from w2w.space.directions import Directions
from w2w.space.edit import edit, sample
from w2w.space.invert import DEFAULT_LR, ImageError, invert, load_image
from w2w.space.loader import Space

PROMPT = "sks person"  # the fine-tuning prompt
GRID_SAMPLES = 4
NO_DELAY = 1000  # a switch timestep at the schedule's length: the edited model throughout


class CancelledError(Exception):
    """An inversion stopped by the visitor."""


def identity_labels(space: Space) -> dict[int, str]:
    """Each model's identity id -> "12 (held-out)" or "3 (train)", as the fleet flags it (an
    imported basis's models are its train identities)."""
    if space.group is None:
        return {int(i): f"{int(i)} (train)" for i in space.basis.train_identity_ids}
    ids = np.asarray(space.group["identity_ids"][:])
    heldout = np.asarray(space.group["heldout"][:]) if "heldout" in space.group else np.zeros(len(ids), bool)
    return {int(i): f"{int(i)} ({'held-out' if h else 'train'})" for i, h in zip(ids, heldout, strict=True)}


@dataclass
class ExploreSpace:
    space: Space
    directions: Directions
    pipe: object                 # StableDiffusionPipeline
    sampler: PreviewParams
    judge: Judge | None = None
    ood: np.ndarray | None = None  # (n, S, S, 3) the world's paintings, to invert
    ood_ids: np.ndarray | None = None
    labels: dict[int, str] = field(default_factory=dict)  # identity id -> its label, read once

    @classmethod
    def open(cls, weights: Path, basis: Path, directions: Path, model: Path, sampler: PreviewParams,
             judge: Path | None = None, world: Path | None = None) -> ExploreSpace:
        space = Space.open(weights, basis)
        loaded_judge = Judge.load(judge) if judge is not None and (judge / "config.json").is_file() else None
        ood = ood_ids = None
        if world is not None and (world / "images.zarr" / "ood").is_dir():
            group = zarr.open_group(world / "images.zarr", mode="r")
            ood, ood_ids = np.asarray(group["ood"][:, 0]), np.asarray(group["ood_identity_ids"][:])
        return cls(space, Directions.load(directions), load_pipeline(model), sampler, loaded_judge, ood,
                   ood_ids, identity_labels(space))

    @property
    def identity_ids(self) -> list[int]:
        return list(self.labels)

    def identity_label(self, identity: int) -> str:
        return self.labels[int(identity)]

    def identity(self, identity: int) -> np.ndarray:
        return self.space.row(int(identity))

    def sampled(self, seed: int) -> np.ndarray:
        return sample(self.space.basis, 1, int(seed))[0]

    def edited(self, start: np.ndarray, strengths: dict[str, float]) -> np.ndarray:
        moved = {name: float(s) for name, s in strengths.items() if s}
        return edit(start, moved, self.space.basis, self.directions) if moved else start

    def render(self, vector: np.ndarray, start: np.ndarray | None = None,
               delay: int = NO_DELAY) -> np.ndarray:
        """GRID_SAMPLES samples (n, S, S, 3) with fixed noise, so that two models compare sample by
        sample. With `start` and delay T < 1000: `start` for timesteps above T, then `vector`."""
        s = self.sampler
        return model_samples(self.pipe, self.space.layout, self.space.scaling, vector, PROMPT, GRID_SAMPLES,
                             s.seed, s.sampler_steps, s.guidance_scale, start,
                             delay if delay < NO_DELAY else None, s.unconditional == "base")

    def judged(self, images: np.ndarray) -> dict[str, float]:
        """Each attribute's judged probability, averaged over the samples; {} without a judge."""
        if self.judge is None:
            return {}
        probs = self.judge.attribute_probabilities(images).mean(0)
        return {name: float(p) for name, p in zip(self.judge.attribute_names, probs, strict=True)}

    def invert_image(self, image: np.ndarray, steps: int, on_step: Callable[[int], None] | None = None,
                     cancel: threading.Event | None = None) -> np.ndarray:
        """The model of the identity in `image` (S, S, 3) uint8, in the space; `on_step(i)` after each
        step; CancelledError when `cancel` is set."""
        def step(i: int) -> None:
            if cancel is not None and cancel.is_set():
                raise CancelledError("inversion cancelled")
            if on_step is not None:
                on_step(i)

        s = self.space
        c = invert(self.pipe, s.basis, s.layout, s.lora["r"], s.lora["lora_alpha"], image, PROMPT, s.basis.k,
                   steps, lr=DEFAULT_LR, seed=0, progress=False, on_step=step)
        return s.basis.to_weights(c)

    def image_from_file(self, path: str | Path) -> np.ndarray:
        """An uploaded image at the model's size; ImageError naming it when it is not a usable image."""
        return load_image(path, int(self.pipe.vae.config.sample_size))

    def write_download(self, vector: np.ndarray, folder: Path, about: dict) -> list[Path]:
        """The model as a standard LoRA folder (the format of `w2w export`) and its coefficients."""
        export_lora(vector, self.space.layout, self.space.lora_config(), folder)
        coefficients = folder / "coefficients.json"
        coefficients.write_text(json.dumps(
            {**about, "coefficients": self.space.basis.to_coefficients(vector).tolist()}, indent=1))
        return [folder / LORA_WEIGHTS, folder / "adapter_config.json", coefficients]


__all__ = ["CancelledError", "ExploreSpace", "ImageError", "NO_DELAY", "GRID_SAMPLES"]
