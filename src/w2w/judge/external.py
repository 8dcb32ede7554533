"""A yardstick of your own: any model that maps images to an identity embedding and attribute
probabilities, named by `judge.yardstick` as `module:function` or `path/to/file.py:function`.

    def my_yardstick(images: np.ndarray) -> dict:
        # images: uint8 (n, S, S, 3) RGB at synthesize.image_size
        return {"embedding": ...,                     # (n, E) floats; cosine similarity compares them
                "attributes": {"Eyeglasses": ..., ...}}  # (n,) probabilities per attribute name

The judge stage then trains nothing. It checks the function on the held-out identities' images,
writes data/judge/config.json naming it, and reports the same validity figures as for the trained
judge. Every later stage loads it through `Judge.load`, as it loads the trained one. The function is
imported from your files (a module on the project root or a file path); nothing is downloaded.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from w2w.errors import InputError

Yardstick = Callable[[np.ndarray], dict]


def resolve(entry_point: str) -> Yardstick:
    """The function that `module:function` or `file.py:function` names; InputError if it cannot be."""
    module_name, _, name = entry_point.partition(":")
    if not module_name or not name:
        raise InputError(f"judge.yardstick: {entry_point!r} is not module:function or file.py:function")
    if module_name.endswith(".py"):
        path = Path(module_name)
        if not path.is_file():
            raise InputError(f"judge.yardstick: {path}: no such file")
        spec = importlib.util.spec_from_file_location(f"w2w_yardstick_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        if os.getcwd() not in sys.path:  # stages run from the project root: its modules are importable
            sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            raise InputError(f"judge.yardstick: cannot import {module_name!r} ({error})") from None
    function = getattr(module, name, None)
    if not callable(function):
        raise InputError(f"judge.yardstick: {module_name} has no function {name!r}")
    return function


class ExternalJudge:
    """A user's yardstick behind the interface of w2w.judge.api.Judge (no trait regressor, no style
    head)."""

    has_traits = False
    has_style = False
    has_attribute_reader = False

    def __init__(self, function: Yardstick, config: dict):
        self.function, self.config = function, config
        self.attribute_names = list(config["attributes"])

    @classmethod
    def from_config(cls, config: dict) -> ExternalJudge:
        return cls(resolve(config["entry_point"]), config)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(self.config, indent=2, sort_keys=True) + "\n")

    def _call(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unit embeddings (n, E) and probabilities (n, A) in attribute_names order, checked."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(f"judge expects uint8 images (n, S, S, 3), got {images.dtype} {images.shape}")
        out, n, where = self.function(images), len(images), f"judge.yardstick {self.config['entry_point']}"
        if not isinstance(out, dict) or "embedding" not in out or "attributes" not in out:
            raise InputError(f"{where}: must return a dict with 'embedding' and 'attributes'")
        embedding = np.asarray(out["embedding"], dtype=np.float64)
        if embedding.ndim != 2 or len(embedding) != n or not np.isfinite(embedding).all():
            raise InputError(f"{where}: 'embedding' must be finite (n, E) for {n} images, "
                             f"got {embedding.shape}")
        missing = [a for a in self.attribute_names if a not in out["attributes"]]
        if missing:
            raise InputError(f"{where}: no probabilities for attributes {missing}")
        probs = np.zeros((n, len(self.attribute_names)))
        for j, name in enumerate(self.attribute_names):
            column = np.asarray(out["attributes"][name], dtype=np.float64)
            if column.shape != (n,) or not ((column >= 0) & (column <= 1)).all():
                raise InputError(f"{where}: {name}: probabilities must be ({n},) values in [0, 1]")
            probs[:, j] = column
        norms = np.maximum(np.linalg.norm(embedding, axis=1, keepdims=True), 1e-12)
        return (embedding / norms).astype(np.float32), probs

    def _batched(self, images: np.ndarray, batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
        parts = [self._call(images[i:i + batch]) for i in range(0, len(images), batch)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def embed(self, images: np.ndarray) -> np.ndarray:
        return self._batched(images)[0]

    def attribute_probabilities(self, images: np.ndarray) -> np.ndarray:
        return self._batched(images)[1]

    def identity_similarity(self, images_a: np.ndarray, images_b: np.ndarray) -> float:
        """Cosine similarity of the mean identity embeddings of two image sets (as Judge's)."""
        a, b = self.embed(images_a).mean(0), self.embed(images_b).mean(0)
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))

    def trait_error(self, images: np.ndarray, truth: np.ndarray) -> float:
        raise FileNotFoundError("this yardstick has no trait regressor")


def external_judge(entry_point: str, attributes: list[str], image_size: int) -> ExternalJudge:
    """The named yardstick, scoring the world's attributes on its images of `image_size` pixels."""
    return ExternalJudge(resolve(entry_point), {"entry_point": entry_point, "attributes": list(attributes),
                                                "image_size": image_size})
