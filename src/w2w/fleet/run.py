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
from tqdm import tqdm

from w2w.atomic import write_json
from w2w.fleet.config import shard_path
from w2w.fleet.engine import ShardJob, run_jobs
from w2w.fleet.masks import make_person_masks
from w2w.fleet.prior import make_class_prior
from w2w.params import ComputeParams, FinetuneParams

MANIFEST = "fleet.json"


def plan_shards(identity_ids: np.ndarray, per_shard: int) -> list[list[int]]:
    """Identity blocks in table order; a shard's content depends only on its own ids."""
    return [identity_ids[s:s + per_shard].tolist() for s in range(0, len(identity_ids), per_shard)]


def remove_stale_temps(out: Path) -> None:
    """Temporary shards of writers that were killed (a clean failure removes its own)."""
    for tmp in out.glob(".shard-*.tmp"):
        shutil.rmtree(tmp, ignore_errors=True)


TRAIN_SUMMARY = "train_summary.json"  # the finetune stage's summary, beside the shards


def prepare_folder(out: Path, manifest: dict) -> None:
    """Keep shards of this exact configuration (resume); clear anything else."""
    if out.is_dir():
        remove_stale_temps(out)
    path = out / MANIFEST
    if path.is_file() and json.loads(path.read_text()) != manifest:
        print(f"{out}: shards were trained with another configuration; starting over")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    if not path.is_file():
        write_json(path, manifest)


def run_finetune(base: Path, world: Path, out: Path, p: FinetuneParams, config_hash: str,
                 compute: ComputeParams, render_seed: int) -> dict:
    """Train all identities (train and held-out) into out/shard-*.safetensors; returns a summary.

    `config_hash` identifies the upstream configuration (world, base); `compute` only says where
    the shard jobs run; `render_seed` is the world's (`synthesize.seed`), for the person masks when
    `p.background_weight` < 1."""
    ids = pd.read_parquet(world / "identities.parquet")["identity_id"].to_numpy()
    prepare_folder(out, {"finetune": p.model_dump(mode="json"), "config_hash": config_hash,
                         "rows": len(ids)})
    shards = plan_shards(ids, p.identities_per_shard)
    prior = make_class_prior(base, out, p)
    masks = make_person_masks(world, base, out, p, render_seed)
    jobs = [ShardJob(str(base), str(out), i, i * p.identities_per_shard, tuple(shards[i]),
                     p.model_dump_json(), compute.threads, compute.device, str(prior or ""), str(masks or ""))
            for i in range(len(shards)) if not shard_path(out, i).is_file()]
    losses, trained, started = [], 0, time.perf_counter()
    bar = tqdm(total=len(ids), initial=len(ids) - sum(len(j.identity_ids) for j in jobs),
               desc="finetune", unit="id")

    def finished(result: dict) -> None:
        nonlocal trained
        losses.extend(result["losses"])
        # count by shard, not by losses: a job rerun after its worker died with the shard written
        # (but its result not yet gathered) finds the shard and reports no losses
        trained += len(shards[result["index"]])
        bar.update(len(shards[result["index"]]))

    run_jobs(jobs, compute, finished)
    bar.close()
    remove_stale_temps(out)  # a worker killed while writing leaves one; its job was rerun
    hours = (time.perf_counter() - started) / 3600
    summary = {"identities": len(ids), "shards": len(shards), "trained_now": trained,
               "identities_per_hour": trained / hours if trained else 0.0}
    if losses:
        summary.update({"loss_mean": float(np.mean(losses)), "loss_p90": float(np.percentile(losses, 90))})
    return summary if trained else previous_summary(out, summary)


def previous_summary(out: Path, summary: dict) -> dict:
    """A rerun that found every shard trained (this configuration's: `prepare_folder` clears any
    other's) keeps the losses and rate of the run that trained them, where its summary is there for
    as many identities and shards, with `trained_now` 0; a resumed run's summary covers what it trained."""
    path = out / TRAIN_SUMMARY
    before = json.loads(path.read_text()) if path.is_file() else {}
    same = all(before.get(k) == summary[k] for k in ("identities", "shards"))
    return {**before, "trained_now": 0} if same and "loss_mean" in before else summary
