"""Training and evaluation of the judge on the miniature world."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
import zarr
from sklearn.metrics import roc_auc_score, roc_curve
from tqdm import tqdm

from w2w.judge.api import Judge
from w2w.judge.model import CosFaceHead, JudgeNet, to_input
from w2w.params import JudgeParams
from w2w.storage import STREAM_JUDGE
from w2w.world.dataset import identities_from_table, render_identity
from w2w.world.identity import ATTRIBUTES


def render_training_set(table: pd.DataFrame, p: JudgeParams, image_size: int
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fresh renders of the train identities: images (M,S,S,3), identity labels (M,), attrs (M,A)."""
    train = table[table["split"] == "train"].reset_index(drop=True)
    images, labels = [], []
    for label, identity in enumerate(tqdm(identities_from_table(train), desc="judge renders",
                                          unit="id")):
        images.append(render_identity(identity, p.renders_per_identity, p.seed, STREAM_JUDGE,
                                      image_size))
        labels.append(np.full(p.renders_per_identity, label))
    attrs = train[list(ATTRIBUTES)].to_numpy(np.float32, copy=True)  # writable for torch
    label_t = torch.from_numpy(np.concatenate(labels))
    return torch.from_numpy(np.concatenate(images)), label_t, torch.from_numpy(attrs)[label_t]


def train_judge(images: torch.Tensor, labels: torch.Tensor, attrs: torch.Tensor, p: JudgeParams,
                on_epoch=None) -> JudgeNet:
    """Metric learning (CosFace) on identities plus BCE on attributes; returns the net in eval mode."""
    torch.manual_seed(p.seed)
    net = JudgeNet(len(ATTRIBUTES), p.width, p.embedding_dim, images.shape[1])
    head = CosFaceHead(p.embedding_dim, int(labels.max()) + 1, p.margin, p.scale)
    opt = torch.optim.AdamW([*net.parameters(), *head.parameters()], lr=p.lr, weight_decay=5e-4)
    steps_per_epoch = max(1, len(images) // p.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, p.lr, total_steps=p.epochs * steps_per_epoch)
    generator = torch.Generator().manual_seed(p.seed)
    net.train()
    for epoch in tqdm(range(p.epochs), desc="judge train", unit="epoch"):
        order = torch.randperm(len(images), generator=generator)
        totals = torch.zeros(2)
        for step in range(steps_per_epoch):
            idx = order[step * p.batch_size:(step + 1) * p.batch_size]
            embedding, logits = net(to_input(images[idx]))
            id_loss = head(embedding, labels[idx])
            attr_loss = F.binary_cross_entropy_with_logits(logits, attrs[idx])
            opt.zero_grad(set_to_none=True)
            (id_loss + attr_loss).backward()
            opt.step()
            sched.step()
            totals += torch.tensor([id_loss.item(), attr_loss.item()])
        if on_epoch is not None:
            on_epoch(epoch, (totals / steps_per_epoch).tolist())
    return net.eval()


def verification_scores(embeddings: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarity and same-identity label of every unordered pair of images."""
    sim = embeddings @ embeddings.T
    upper = np.triu_indices(len(ids), k=1)
    return sim[upper], (ids[:, None] == ids[None, :])[upper]


def equal_error_threshold(scores: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """(threshold, equal error rate) of same-vs-different verification."""
    fpr, tpr, thresholds = roc_curve(same, scores)
    k = int(np.argmin(np.abs(fpr - (1 - tpr))))
    return float(thresholds[k]), float((fpr[k] + 1 - tpr[k]) / 2)


def evaluate_judge(judge: Judge, images: np.ndarray, table: pd.DataFrame,
                   ood: np.ndarray | None = None) -> dict:
    """Held-out figures: images (H, K, S, S, 3) of the held-out identities in `table` order."""
    h, k = images.shape[:2]
    flat = images.reshape(h * k, *images.shape[2:])
    ids = np.repeat(table["identity_id"].to_numpy(), k)
    probs = judge.attribute_probabilities(flat)
    truth = np.repeat(table[list(ATTRIBUTES)].to_numpy(bool), k, axis=0)
    accuracy = {a: float(((probs[:, j] > 0.5) == truth[:, j]).mean()) for j, a in enumerate(ATTRIBUTES)}
    scores, same = verification_scores(judge.embed(flat), ids)
    threshold, eer = equal_error_threshold(scores, same)
    metrics = {"attribute_accuracy": accuracy,
               "attribute_accuracy_mean": float(np.mean(list(accuracy.values()))),
               "identity_auc": float(roc_auc_score(same, scores)),
               "identity_eer": eer, "verification_threshold": threshold}
    if ood is not None:  # painting vs normal render of the same / other held-out identities
        sim = judge.embed(ood.reshape(-1, *ood.shape[2:])) @ judge.embed(flat).T
        ood_ids = np.repeat(table["identity_id"].to_numpy(), ood.shape[1])
        metrics["ood_identity_auc"] = float(roc_auc_score(
            (ood_ids[:, None] == ids[None, :]).ravel(), sim.ravel()))
    return metrics


def fit_and_evaluate(world: Path, p: JudgeParams, out: Path, on_epoch=None) -> dict:
    """Train a judge on `world`'s train identities, save it to `out`, return held-out metrics."""
    table = pd.read_parquet(world / "identities.parquet")
    group = zarr.open_group(world / "images.zarr", mode="r")
    size = int(group.attrs["image_size"])
    images, labels, attrs = render_training_set(table, p, size)

    def report(epoch: int, losses: list[float]) -> None:
        if on_epoch is not None:
            on_epoch(epoch, {"train.identity_loss": losses[0], "train.attribute_loss": losses[1]})

    net = train_judge(images, labels, attrs, p, on_epoch=report)
    config = {"attributes": list(ATTRIBUTES), "width": p.width, "embedding_dim": p.embedding_dim,
              "image_size": size}
    judge = Judge(net, config)
    heldout = (table["split"] == "heldout").to_numpy()
    metrics = evaluate_judge(judge, np.asarray(group["images"][:])[heldout],
                             table[heldout].reset_index(drop=True), np.asarray(group["ood"][:]))
    judge.config["verification_threshold"] = metrics["verification_threshold"]
    judge.save(out)
    return metrics
