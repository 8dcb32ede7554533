"""Is the judge's identity embedding robust to what the base's VAE does to a face? (issue 16, item 1)

    python studies/judge_robustness.py [SPACE]    # SPACE holds world/, base/, judge/ (default: data)

On a seeded sample of held-out identities, with fresh renders of the evaluation stream (no model
trained on them): verification ROC AUC and mean same-identity cosine, for clean pairs (render i vs
render j of the same identity, against other identities' renders) and for VAE round-trip pairs
(render i encoded and decoded by the base's VAE, vs clean render j). Goals of the issue: AUC >= 0.98
for both, and the round-trip's same-identity cosine within 0.05 of the clean one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

from w2w.base.latents import encode_images
from w2w.base.pipeline import load_pipeline
from w2w.judge.api import Judge
from w2w.storage import STREAM_EVAL
from w2w.world.dataset import identities_from_table, render_identity

IDENTITIES, RENDERS, SEED = 64, 4, 0


@torch.no_grad()
def round_trip(vae, images: np.ndarray) -> np.ndarray:
    """uint8 (B, S, S, 3) -> the same images encoded to latent means and decoded again."""
    latents = torch.from_numpy(encode_images(vae, images)) / vae.config.scaling_factor
    x = vae.decode(latents).sample.clamp(-1, 1)
    return ((x.permute(0, 2, 3, 1).numpy() + 1) * 127.5).round().astype(np.uint8)


def verification(probe: np.ndarray, gallery: np.ndarray) -> dict[str, float]:
    """probe, gallery (M, n, E) unit embeddings: same identity = probe i vs gallery j != i."""
    m, n = probe.shape[:2]
    same = [probe[k, i] @ gallery[k, j] for k in range(m) for i in range(n) for j in range(n) if i != j]
    other = [probe[k, 0] @ gallery[(k + s) % m, 1] for k in range(m) for s in range(1, m)]
    scores, labels = np.array(same + other), np.r_[np.ones(len(same)), np.zeros(len(other))]
    return {"auc": float(roc_auc_score(labels, scores)), "same_identity_cosine": float(np.mean(same)),
            "other_identity_cosine": float(np.mean(other))}


def main(space: Path) -> dict:
    table = pd.read_parquet(space / "world" / "identities.parquet")
    held = table[table["split"] == "heldout"]
    chosen = held.iloc[np.sort(np.random.default_rng(SEED).permutation(len(held))[:IDENTITIES])]
    vae, judge = load_pipeline(space / "base" / "model").vae, Judge.load(space / "judge")
    size = int(vae.config.sample_size)
    renders = np.stack([render_identity(i, RENDERS, SEED, STREAM_EVAL, size)
                        for i in identities_from_table(chosen)])                    # (M, n, S, S, 3)
    flat = renders.reshape(-1, *renders.shape[2:])
    clean = judge.embed(flat).reshape(*renders.shape[:2], -1)
    trips = judge.embed(round_trip(vae, flat)).reshape(*renders.shape[:2], -1)
    return {"identities": len(chosen), "renders_per_identity": RENDERS,
            "clean": verification(clean, clean), "vae_round_trip": verification(trips, clean)}


if __name__ == "__main__":
    figures = main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("data"))
    print(json.dumps(figures, indent=2))
