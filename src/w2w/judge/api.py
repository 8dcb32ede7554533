"""The judge as later stages use it: attribute scores and identity similarity of images.

A judge folder holds `model.safetensors` and `config.json` (architecture, attribute names,
verification threshold), so it loads without this project's training code; or only a config.json
naming a yardstick of the user's own (`entry_point`, see w2w.judge.external). `traits.safetensors`,
where present, is the trait regressor: the second, ground-truth yardstick of identity, whose
predictions are in the world's trait units (config `traits`, `trait_mean`, `trait_std`).
`style.safetensors`, where present, is the style head: the probability that an image is a render
of the world, not a painting of it (issue 17: are w2w's samples from a painting realistic?).
`attributes.safetensors`, where present, is the attribute reader: a network of its own, trained on
the trait regressor's fresh people, that reads the attributes in place of the judge's own head.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from w2w.judge.model import JudgeNet, TraitNet, to_input
from w2w.world.identity import TRAITS

DEFAULT_JUDGE_DIR = Path("data/judge")
TRAIT_COLUMNS = [f"trait_{t}" for t in TRAITS]  # identities.parquet's columns of the true traits
TRAITS_FILE, STYLE_FILE = "traits.safetensors", "style.safetensors"  # the optional heads'
READER_FILE = "attributes.safetensors"


class Judge:
    """A trained JudgeNet in eval mode plus its config."""

    def __init__(self, net: JudgeNet, config: dict, traits: TraitNet | None = None,
                 style: TraitNet | None = None, folder: Path | None = None, reader: TraitNet | None = None):
        self.net, self.config = net.eval(), config
        self.folder = folder  # where it was loaded from; None: trained in this process
        self.traits_net = traits.eval() if traits is not None else None
        self.style_net = style.eval() if style is not None else None  # one logit: render vs painting
        self.reader_net = reader.eval() if reader is not None else None  # one logit per attribute
        self.attribute_names: list[str] = list(config["attributes"])

    @property
    def has_traits(self) -> bool:
        return self.traits_net is not None

    @property
    def has_style(self) -> bool:
        return self.style_net is not None

    @property
    def has_attribute_reader(self) -> bool:
        return self.reader_net is not None

    def own_head(self) -> Judge:
        """The same judge reading attributes with its own head, not its attribute reader: what the
        reader changed (metrics/judge.json `judge_head`, evaluate_base, studies/attribute_reader.py)."""
        return Judge(self.net, self.config, self.traits_net, self.style_net, self.folder)

    @classmethod
    def load(cls, folder: str | Path) -> Judge:
        folder = Path(folder)
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"{folder}: not a judge folder (no config.json)")
        config = json.loads((folder / "config.json").read_text())
        if "entry_point" in config:  # a yardstick of the user's own (judge.yardstick)
            from w2w.judge.external import ExternalJudge

            return ExternalJudge.from_config(config)
        net = JudgeNet(len(config["attributes"]), config["width"], config["embedding_dim"],
                       config["image_size"])
        net.load_state_dict(load_file(folder / "model.safetensors"), strict=True)
        traits = _load_head(folder / TRAITS_FILE, len(config.get("traits", [])), config)
        reader = _load_head(folder / READER_FILE, len(config["attributes"]), config)
        return cls(net, config, traits, _load_head(folder / STYLE_FILE, 1, config), folder, reader)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for net, name in ((self.net, "model.safetensors"), (self.traits_net, TRAITS_FILE),
                          (self.style_net, STYLE_FILE), (self.reader_net, READER_FILE)):
            if net is not None:  # an optional head the judge lacks has no file
                save_file({k: v.contiguous() for k, v in net.state_dict().items()}, folder / name)
        (folder / "config.json").write_text(json.dumps(self.config, indent=2, sort_keys=True) + "\n")

    @staticmethod
    def _checked(images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(f"judge expects uint8 images (n, S, S, 3), got {images.dtype} "
                             f"{images.shape}")
        return images

    @torch.no_grad()
    def _run(self, images: np.ndarray, batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
        images = self._checked(images)
        embeddings, logits = [], []
        for start in range(0, len(images), batch):
            e, a = self.net(to_input(torch.from_numpy(images[start:start + batch])))
            embeddings.append(e.numpy())
            logits.append(a.numpy())
        return np.concatenate(embeddings), np.concatenate(logits)

    def _head(self, net: TraitNet | None, what: str, file: str) -> TraitNet:
        if net is None:
            where = self.folder if self.folder is not None else "this judge"
            raise FileNotFoundError(f"{where}: the judge has no {what} (no {file}); rerun the judge stage")
        return net

    @torch.no_grad()
    def _head_outputs(self, net: TraitNet, images: np.ndarray, batch: int) -> np.ndarray:
        """A head's outputs (n, K) for uint8 images, in batches."""
        images = self._checked(images)
        return np.concatenate([net(to_input(torch.from_numpy(images[i:i + batch]))).numpy()
                               for i in range(0, len(images), batch)])

    def predict_traits(self, images: np.ndarray, batch: int = 512) -> np.ndarray:
        """The trait regressor's estimate (n, T) of each image's traits, in the world's units."""
        net = self._head(self.traits_net, "trait regressor", TRAITS_FILE)
        standard = self._head_outputs(net, images, batch)
        return standard * np.asarray(self.config["trait_std"]) + np.asarray(self.config["trait_mean"])

    def realistic_probability(self, images: np.ndarray, batch: int = 512) -> np.ndarray:
        """The style head's probability (n,) that each image is a render, not a painting."""
        logits = self._head_outputs(self._head(self.style_net, "style head", STYLE_FILE), images, batch)[:, 0]
        return 1.0 / (1.0 + np.exp(-logits))

    def trait_error(self, images: np.ndarray, truth: np.ndarray) -> float:
        """Mean absolute error, in population standard deviations, of the traits predicted from one
        model's images (their mean) against the identity's true traits (T,). Guessing a random
        other identity scores about 1.15 for the world's uniform traits."""
        predicted = self.predict_traits(images).mean(0)
        return float((np.abs(predicted - truth) / np.asarray(self.config["trait_std"])).mean())

    def embed(self, images: np.ndarray) -> np.ndarray:
        """Unit identity embeddings (n, E)."""
        return self._run(images)[0]

    def attribute_probabilities(self, images: np.ndarray) -> np.ndarray:
        """Probability of each attribute (n, A), columns in `attribute_names` order: by the attribute
        reader where the judge has one, else by the judge's own head (`own_head()` reads with it)."""
        if self.reader_net is not None:
            logits = self._head_outputs(self.reader_net, images, 512)
        else:
            logits = self._run(images)[1]
        return 1.0 / (1.0 + np.exp(-logits))

    def identity_similarity(self, images_a: np.ndarray, images_b: np.ndarray) -> float:
        """Cosine similarity of the mean identity embeddings of two image sets."""
        a, b = self.embed(images_a).mean(0), self.embed(images_b).mean(0)
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def _load_head(path: Path, outputs: int, config: dict) -> TraitNet | None:
    """An optional head (a TraitNet with `outputs` outputs) from its file; None where there is none."""
    if not path.is_file():
        return None
    net = TraitNet(outputs, config["width"], config["image_size"])
    net.load_state_dict(load_file(path), strict=True)
    return net


@lru_cache(maxsize=4)
def _cached(folder: str) -> Judge:
    return Judge.load(folder)


def attributes(images: np.ndarray, judge_dir: str | Path = DEFAULT_JUDGE_DIR) -> dict[str, np.ndarray]:
    """Judged attribute probabilities per attribute name, each (n,)."""
    judge = _cached(str(judge_dir))
    probs = judge.attribute_probabilities(images)
    return {name: probs[:, j] for j, name in enumerate(judge.attribute_names)}


def identity_similarity(images_a: np.ndarray, images_b: np.ndarray,
                        judge_dir: str | Path = DEFAULT_JUDGE_DIR) -> float:
    """Cosine similarity of the two sets' mean identity embeddings, in [-1, 1]."""
    return _cached(str(judge_dir)).identity_similarity(images_a, images_b)
