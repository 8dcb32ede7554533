"""The `finetune` stage's library: train every identity's adapter, one shard per block.

Shards already on disk are skipped, so an interrupted run resumes where it stopped. A manifest
(`fleet.json`) records the configuration the shards were trained with; shards of another
configuration are stale and are removed before training starts.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import zarr
from tqdm import tqdm

from w2w.atomic import write_json
from w2w.base.model import encode_prompts, training_scheduler
from w2w.base.pipeline import load_pipeline
from w2w.fleet.export import config_metadata, lora_config
from w2w.fleet.layout import AdapterLayout
from w2w.fleet.shards import write_shard
from w2w.fleet.train import FleetConfig, train_identities
from w2w.params import FinetuneParams

MANIFEST = "fleet.json"


def fleet_config(p: FinetuneParams) -> FleetConfig:
    return FleetConfig(rank=p.rank, alpha=p.lora_alpha, targets=tuple(p.targets), steps=p.steps, lr=p.lr,
                       weight_decay=p.weight_decay, grad_clip=p.grad_clip, init_seed=p.init_seed,
                       seed=p.seed)


def shard_path(folder: Path, index: int) -> Path:
    return folder / f"shard-{index:05d}.safetensors"


def plan_shards(identity_ids: np.ndarray, per_shard: int) -> list[list[int]]:
    """Identity blocks in table order; a shard's content depends only on its own ids."""
    return [identity_ids[s:s + per_shard].tolist() for s in range(0, len(identity_ids), per_shard)]


def prepare_folder(out: Path, manifest: dict) -> None:
    """Keep shards of this exact configuration (resume); clear anything else."""
    path = out / MANIFEST
    if path.is_file() and json.loads(path.read_text()) != manifest:
        print(f"{out}: shards were trained with another configuration; starting over")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    if not path.is_file():
        write_json(path, manifest)


def run_finetune(base: Path, world: Path, out: Path, p: FinetuneParams, config_hash: str) -> dict:
    """Train all identities (train and held-out) into out/shard-*.safetensors; returns a summary."""
    table = pd.read_parquet(world / "identities.parquet")
    ids = table["identity_id"].to_numpy()
    latents = zarr.open_group(base / "latents.zarr", mode="r")["latents"]
    pipe = load_pipeline(base / "model")
    context = encode_prompts(pipe.text_encoder, pipe.tokenizer, [p.prompt])[0]
    cfg, scheduler = fleet_config(p), training_scheduler()
    prepare_folder(out, {"finetune": p.model_dump(mode="json"), "config_hash": config_hash,
                         "rows": len(ids)})
    shards = plan_shards(ids, p.identities_per_shard)
    todo = [k for k in range(len(shards)) if not shard_path(out, k).is_file()]
    losses, started = [], time.perf_counter()
    bar = tqdm(total=len(ids), initial=len(ids) - sum(len(shards[k]) for k in todo),
               desc="finetune", unit="id")
    for k in todo:
        start = k * p.identities_per_shard  # shards are consecutive rows of the table
        block = torch.from_numpy(np.asarray(latents[start:start + len(shards[k])]))  # (K, n, C, h, w)
        weights, loss = train_identities(pipe.unet, scheduler, block, shards[k], context, cfg)
        write_shard(shard_path(out, k), shards[k], weights, AdapterLayout.from_weights(weights, True))
        losses.extend(loss.tolist())
        bar.update(len(shards[k]))
    bar.close()
    hours = (time.perf_counter() - started) / 3600
    trained = sum(len(shards[k]) for k in todo)
    summary = {"identities": len(ids), "shards": len(shards), "trained_now": trained,
               "identities_per_hour": trained / hours if trained else 0.0}
    if losses:
        summary.update({"loss_mean": float(np.mean(losses)), "loss_p90": float(np.percentile(losses, 90))})
    return summary


def lora_config_dict(p: FinetuneParams) -> dict:
    return config_metadata(lora_config(p.rank, p.lora_alpha, tuple(p.targets)))
