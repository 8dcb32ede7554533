"""Training and evaluation of the judge: on fresh renders of the miniature world's train identities,
or on the photos of a folder source's train identities (with the same augmentation; no traits)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
import zarr
from torch import nn
from tqdm import tqdm

from w2w.judge.api import TRAIT_COLUMNS, Judge
from w2w.judge.augment import degrade
from w2w.judge.external import external_judge
from w2w.judge.measure import Degrade, evaluate_judge
from w2w.judge.model import CosFaceHead, JudgeNet, TraitNet, to_input
from w2w.params import JudgeParams
from w2w.storage import STREAM_JUDGE
from w2w.world.dataset import identities_from_table, render_identities
from w2w.world.identity import ATTRIBUTES, TRAITS, UNGRADED, Grading
from w2w.world.references import is_folder_world

TRAIT_FIRST_ID = 2_000_000  # the trait regressor's fresh people: above any world's ids (0, 1, ...)


@dataclass
class TrainingSet:
    """Fresh renders of the train identities and what is known about each."""

    images: torch.Tensor   # (M, S, S, 3) uint8
    labels: torch.Tensor   # (M,) identity index
    attrs: torch.Tensor    # (M, A) float 0/1
    traits: torch.Tensor | None  # (M, T) true continuous traits; None: not known (real photos)
    round_trips: torch.Tensor | None = None  # (M, S, S, 3) uint8: the images through the base's VAE


def photo_training_set(table: pd.DataFrame, images: zarr.Array, attributes: list[str], p: JudgeParams
                       ) -> TrainingSet:
    """A folder source's train identities: their photos (what their LoRAs train on), each repeated
    to `renders_per_identity` per identity so that an epoch is as long as in the miniature world;
    the augmentation draws each repeat afresh."""
    rows = np.flatnonzero((table["split"] == "train").to_numpy())
    photos = np.asarray(images.get_orthogonal_selection((rows, slice(None))))  # (M, n, S, S, 3)
    pick = np.arange(p.renders_per_identity) % photos.shape[1]
    label_t = torch.from_numpy(np.repeat(np.arange(len(rows)), p.renders_per_identity))
    attrs = torch.from_numpy(table.iloc[rows][attributes].to_numpy(np.float32, copy=True))[label_t]
    return TrainingSet(torch.from_numpy(photos[:, pick].reshape(-1, *photos.shape[2:])), label_t, attrs, None)


def render_training_set(table: pd.DataFrame, p: JudgeParams, image_size: int) -> TrainingSet:
    """Fresh renders of the train identities (a stream of their own: no other model sees them),
    identity after identity, `renders_per_identity` each."""
    train = table[table["split"] == "train"].reset_index(drop=True)
    n = p.renders_per_identity
    images = render_identities(identities_from_table(train), n, p.seed, STREAM_JUDGE, image_size,
                               desc="judge renders")                      # (L, n, S, S, 3)
    label_t = torch.arange(len(train)).repeat_interleave(n)
    attrs = torch.from_numpy(train[list(ATTRIBUTES)].to_numpy(np.float32, copy=True))[label_t]
    traits = torch.from_numpy(train[TRAIT_COLUMNS].to_numpy(np.float32, copy=True))[label_t]
    return TrainingSet(torch.from_numpy(images.reshape(-1, *images.shape[2:])), label_t, attrs, traits)


def fresh_trait_set(n: int, seed: int, image_size: int, renders: int = 1,
                    grading: Grading = UNGRADED) -> TrainingSet:
    """`renders` each of `n` people the renderer draws afresh (ids from TRAIT_FIRST_ID up), with
    their traits and attributes: the trait regressor's and the attribute reader's training set. The
    world's 480 train identities are only 480 trait vectors, so a regressor trained on them learns
    who is who; n distinct people teach what each trait looks like (studies/trait_reader.py). No
    world identity, train or held-out, is among them. `grading`: the world's, so that they are
    drawn as its people are."""
    identities = [grading.draw(TRAIT_FIRST_ID + i, seed) for i in range(n)]
    images = render_identities(identities, renders, seed, STREAM_JUDGE, image_size, desc="trait renders")
    images = images.reshape(-1, *images.shape[2:])                       # (n * renders, S, S, 3)
    traits = torch.tensor([[i.traits[t] for t in TRAITS] for i in identities], dtype=torch.float32)
    attrs = torch.tensor([[float(i.attributes[a]) for a in ATTRIBUTES] for i in identities])
    labels = torch.arange(n).repeat_interleave(renders)
    return TrainingSet(torch.from_numpy(images), labels, attrs[labels], traits[labels])


def style_training_set(table: pd.DataFrame, judge_data: TrainingSet, p: JudgeParams,
                       round_trip: Degrade | None = None) -> TrainingSet:
    """The style head's: the first `style_renders_per_identity` of the judge's renders of each train
    identity (`judge_data`, and their round trips where it has them), each beside its painting, the
    same pose, light and scene: the head learns the style, not who or what is in the picture.
    `attrs` (M, 1): 1 for a render, 0 for a painting. `round_trip`: the paintings' trips too."""
    train = table[table["split"] == "train"].reset_index(drop=True)
    n, per_identity = p.style_renders_per_identity, p.renders_per_identity
    size = judge_data.images.shape[1]
    paintings = torch.from_numpy(render_identities(identities_from_table(train), n, p.seed, STREAM_JUDGE,
                                                   size, painting=True, desc="style paintings"))

    def beside(renders: torch.Tensor, painted: torch.Tensor) -> torch.Tensor:
        renders = renders.reshape(len(train), per_identity, *renders.shape[1:])[:, :n]
        return torch.cat([renders, painted], 1).reshape(-1, *renders.shape[2:])  # per identity: n, n

    images = beside(judge_data.images, paintings)
    trips = None
    if round_trip is not None and judge_data.round_trips is not None:
        painted_trips = round_trips_of(paintings.reshape(-1, size, size, 3).numpy(), round_trip)
        trips = beside(judge_data.round_trips, torch.from_numpy(painted_trips).reshape(paintings.shape))
    realistic = torch.tensor([1.0] * n + [0.0] * n).repeat(len(train))[:, None]
    return TrainingSet(images, torch.arange(len(images)), realistic, None, trips)


def round_trips_of(images: np.ndarray, round_trip: Degrade, batch: int = 512) -> np.ndarray:
    """Every image's VAE round trip (M, S, S, 3) uint8, in batches."""
    return np.concatenate([round_trip(images[i:i + batch])
                           for i in tqdm(range(0, len(images), batch), desc="judge round trips",
                                         unit="batch")])


def with_round_trips(data: TrainingSet, round_trip: Degrade) -> TrainingSet:
    """The training set plus every image's VAE round trip, computed once."""
    return dataclasses.replace(data, round_trips=torch.from_numpy(round_trips_of(data.images.numpy(),
                                                                                round_trip)))


def training_input(data: TrainingSet, idx: torch.Tensor, p: JudgeParams,
                   generator: torch.Generator) -> torch.Tensor:
    """The batch as the nets see it in training: some images swapped for their VAE round trips,
    then each blurred, tinted and noised at random (w2w.judge.augment)."""
    x = to_input(data.images[idx])
    if data.round_trips is not None and p.vae_round_trip > 0:
        swap = torch.rand(len(idx), generator=generator) < p.vae_round_trip
        x[swap] = to_input(data.round_trips[idx[swap]])
    return degrade(x, p, generator)


def _fit(modules: list[nn.Module], losses_of: Callable[[torch.Tensor, torch.Tensor], list[torch.Tensor]],
         data: TrainingSet, p: JudgeParams, desc: str, on_epoch=None) -> None:
    """AdamW with a one-cycle schedule over shuffled, augmented batches; losses are summed."""
    opt = torch.optim.AdamW([q for m in modules for q in m.parameters()], lr=p.lr, weight_decay=5e-4)
    steps_per_epoch = max(1, len(data.images) // p.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, p.lr, total_steps=p.epochs * steps_per_epoch)
    generator = torch.Generator().manual_seed(p.seed)
    for module in modules:
        module.train()
    for epoch in tqdm(range(p.epochs), desc=desc, unit="epoch"):
        order = torch.randperm(len(data.images), generator=generator)
        totals = None
        for step in range(steps_per_epoch):
            idx = order[step * p.batch_size:(step + 1) * p.batch_size]
            losses = losses_of(training_input(data, idx, p, generator), idx)
            opt.zero_grad(set_to_none=True)
            sum(losses).backward()
            opt.step()
            sched.step()
            values = torch.tensor([loss.item() for loss in losses])
            totals = values if totals is None else totals + values
        if on_epoch is not None:
            on_epoch(epoch, (totals / steps_per_epoch).tolist())
    for module in modules:
        module.eval()


def train_judge(data: TrainingSet, p: JudgeParams, on_epoch=None) -> JudgeNet:
    """Metric learning (CosFace) on identities plus BCE on attributes; returns the net in eval mode."""
    torch.manual_seed(p.seed)
    net = JudgeNet(data.attrs.shape[1], p.width, p.embedding_dim, data.images.shape[1])
    head = CosFaceHead(p.embedding_dim, int(data.labels.max()) + 1, p.margin, p.scale)

    def losses(x: torch.Tensor, idx: torch.Tensor) -> list[torch.Tensor]:
        embedding, logits = net(x)
        return [head(embedding, data.labels[idx]),
                F.binary_cross_entropy_with_logits(logits, data.attrs[idx])]

    own = p.model_copy(update={"epochs": p.identity_epochs})  # the embedding's epochs, not the other nets'
    _fit([net, head], losses, data, own, "judge train", on_epoch)
    return net


def train_traits(data: TrainingSet, mean: torch.Tensor, std: torch.Tensor, p: JudgeParams,
                 on_epoch=None) -> TraitNet:
    """Regression of the standardised traits (mean squared error), on the same augmented renders."""
    torch.manual_seed(p.seed + 1)
    net = TraitNet(data.traits.shape[1], p.width, data.images.shape[1])
    target = (data.traits - mean) / std

    def losses(x: torch.Tensor, idx: torch.Tensor) -> list[torch.Tensor]:
        return [F.mse_loss(net(x), target[idx])]

    _fit([net], losses, data, p, "trait regressor train", on_epoch)
    return net


def train_attribute_reader(data: TrainingSet, p: JudgeParams, on_epoch=None) -> TraitNet:
    """The attributes (binary cross-entropy), read by a network of their own trained on fresh people:
    the judge's attribute head learns them from the train identities' renders beside who is who,
    and misses rare ones on true renders (README, "Reading attributes")."""
    torch.manual_seed(p.seed + 3)
    net = TraitNet(data.attrs.shape[1], p.width, data.images.shape[1])

    def losses(x: torch.Tensor, idx: torch.Tensor) -> list[torch.Tensor]:
        return [F.binary_cross_entropy_with_logits(net(x), data.attrs[idx])]

    _fit([net], losses, data, p, "attribute reader train", on_epoch)
    return net


def train_style(data: TrainingSet, p: JudgeParams, on_epoch=None) -> TraitNet:
    """Render (1) or painting (0), binary cross-entropy on the same augmentation as the judge's, VAE
    round trips included: generated samples are what it has to read."""
    torch.manual_seed(p.seed + 2)
    net = TraitNet(1, p.width, data.images.shape[1])

    def losses(x: torch.Tensor, idx: torch.Tensor) -> list[torch.Tensor]:
        return [F.binary_cross_entropy_with_logits(net(x), data.attrs[idx])]

    _fit([net], losses, data, p.model_copy(update={"epochs": p.style_epochs}), "style head train", on_epoch)
    return net


def fit_and_evaluate(world: Path, p: JudgeParams, out: Path, round_trip: Degrade | None = None,
                     on_epoch=None) -> dict:
    """Train a judge, its trait regressor and its style head on `world`'s train identities, save them
    to `out`, return held-out metrics. `round_trip` (the base's VAE, encode then decode) is both a training
    augmentation and what the robustness figures measure; without it neither happens.

    Held-out figures: on the held-out identities' world renders (miniature), or on all their photos,
    held back or not (folder): the judge trained on none of them. A folder has no trait regressor."""
    table = pd.read_parquet(world / "identities.parquet")
    group = zarr.open_group(world / "images.zarr", mode="r")
    size = int(group.attrs["image_size"])
    attributes = list(group.attrs["attributes"])  # the world's 13, or the attribute file's columns
    data = (photo_training_set(table, group["images"], attributes, p) if is_folder_world(world)
            else render_training_set(table, p, size))
    if round_trip is not None and p.vae_round_trip > 0:
        data = with_round_trips(data, round_trip)

    def report(names: tuple[str, ...]):
        def log(epoch: int, losses: list[float]) -> None:
            if on_epoch is not None:
                on_epoch(epoch, dict(zip(names, losses, strict=True)))
        return log

    net = train_judge(data, p, report(("train.identity_loss", "train.attribute_loss")))
    config = {"attributes": attributes, "width": p.width, "embedding_dim": p.embedding_dim,
              "image_size": size}
    traits = reader = None
    if data.traits is not None:  # as many fresh people as the judge has training images
        trait_data = fresh_trait_set(len(data.images), p.seed, size, grading=Grading.of_world(group.attrs))
        if round_trip is not None and p.vae_round_trip > 0:
            trait_data = with_round_trips(trait_data, round_trip)
        mean, std = trait_data.traits.mean(0), trait_data.traits.std(0)  # the population's
        traits = train_traits(trait_data, mean, std, p, report(("train.trait_loss",)))
        config.update({"traits": list(TRAIT_COLUMNS), "trait_mean": mean.tolist(), "trait_std": std.tolist()})
        if p.attribute_reader:  # the same fresh people's attributes, in the judge's column order
            assert attributes == list(ATTRIBUTES), attributes
            reader = train_attribute_reader(trait_data, p, report(("train.reader_loss",)))
    style = None
    if data.traits is not None and p.style_renders_per_identity > 0:  # the world paints; photos do not
        style_data = style_training_set(table, data, p, round_trip)
        style = train_style(style_data, p, report(("train.style_loss",)))
    return evaluate_and_save(Judge(net, config, traits, style, reader=reader), world, out, round_trip)


def evaluate_and_save(judge: Judge, world: Path, out: Path, round_trip: Degrade | None = None) -> dict:
    """Held-out figures of a judge (see fit_and_evaluate); saves it, with its verification threshold."""
    table = pd.read_parquet(world / "identities.parquet")
    group = zarr.open_group(world / "images.zarr", mode="r")
    heldout = (table["split"] == "heldout").to_numpy()
    images = np.asarray(group["images"][:])[heldout]
    if is_folder_world(world):
        images = np.concatenate([images, np.asarray(group["references"][:])[heldout]], axis=1)
    metrics = evaluate_judge(judge, images, table[heldout].reset_index(drop=True),
                             np.asarray(group["ood"][:]), round_trip)
    judge.config["verification_threshold"] = metrics["verification_threshold"]
    judge.save(out)
    return metrics


def yardstick_and_evaluate(world: Path, entry_point: str, out: Path, round_trip: Degrade | None = None
                           ) -> dict:
    """A yardstick of the user's own (w2w.judge.external) in place of training: the same held-out
    figures, and a judge folder that names it."""
    group = zarr.open_group(world / "images.zarr", mode="r")
    judge = external_judge(entry_point, list(group.attrs["attributes"]), int(group.attrs["image_size"]))
    return evaluate_and_save(judge, world, out, round_trip)
