"""Fleet training throughput: batched multi-identity LoRA vs one identity at a time with peft.

Same identities, steps, per-identity batch (all of each identity's images), seeds and threads, in
one run. Also times the engine's two layouts for 2 cores: one process with two torch threads vs two
one-thread processes, each training the same number of identities.

    python benchmarks/finetune_throughput.py   # needs data/base (dvc repro base)

Writes benchmarks/results/finetune_throughput.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import zarr

from w2w.atomic import write_json
from w2w.base.model import encode_prompts, training_scheduler
from w2w.base.pipeline import load_pipeline
from w2w.fleet.config import FleetConfig
from w2w.fleet.peft_reference import train_one_with_peft
from w2w.fleet.train import train_identities
from w2w.params import load_params

RESULT = Path("benchmarks/results/finetune_throughput.json")


def load(base: Path, k: int, offset: int = 0):
    pipe = load_pipeline(base / "model")
    latents = zarr.open_group(base / "latents.zarr", mode="r")["latents"]
    block = torch.from_numpy(np.asarray(latents[offset:offset + k]))  # (K, n, C, h, w)
    context = encode_prompts(pipe.text_encoder, pipe.tokenizer, ["sks person"])[0]
    return pipe.unet, block, context


def rel_err(got: dict, want: dict) -> float:
    num = sum(float((got[key] - want[key]).pow(2).sum()) for key in want)
    return (num / sum(float(want[key].pow(2).sum()) for key in want)) ** 0.5


def batched_vs_peft(base: Path, k: int, cfg: FleetConfig) -> dict:
    unet, block, context = load(base, k)
    scheduler, ids = training_scheduler(), list(range(k))
    train_identities(unet, scheduler, block[:1], [0], context, FleetConfig(steps=2))  # warm-up
    start = time.perf_counter()
    batched, _ = train_identities(unet, scheduler, block, ids, context, cfg)
    batched_s = time.perf_counter() - start
    start, errors = time.perf_counter(), []
    for i in ids:
        solo = train_one_with_peft(unet, scheduler, block[i], i, context, cfg)
        errors.append(rel_err({key: batched[key][i] for key in solo}, solo))
    solo_s = time.perf_counter() - start
    return {"batched_s": batched_s, "peft_one_at_a_time_s": solo_s,
            "batched_identities_per_hour": k / batched_s * 3600,
            "peft_identities_per_hour": k / solo_s * 3600,
            "speedup": solo_s / batched_s, "max_rel_err": max(errors)}


def one_worker(base: Path, k: int, offset: int, steps: int, threads: int) -> float:
    """Train k identities in a fresh process with `threads` torch threads; returns its wall seconds."""
    cmd = [sys.executable, __file__, "--worker", "--base", str(base), "--identities", str(k),
           "--offset", str(offset), "--steps", str(steps), "--threads", str(threads)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)


def processes_vs_threads(base: Path, k: int, steps: int) -> dict:
    """Wall time for 2k identities: one 2-thread process vs two concurrent 1-thread processes."""
    start = time.perf_counter()
    one = one_worker(base, 2 * k, 0, steps, 2)
    one.communicate()
    one_s = time.perf_counter() - start
    start = time.perf_counter()
    pair = [one_worker(base, k, 0, steps, 1), one_worker(base, k, k, steps, 1)]
    for proc in pair:
        proc.communicate()
    two_s = time.perf_counter() - start
    return {"one_process_two_threads_s": one_s, "two_processes_one_thread_s": two_s,
            "processes_speedup": one_s / two_s}


def worker_main(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    unet, block, context = load(args.base, args.identities, args.offset)
    ids = list(range(args.offset, args.offset + args.identities))
    for start in range(0, len(ids), 16):  # shard-sized jobs, as the engine runs them
        train_identities(unet, training_scheduler(), block[start:start + 16], ids[start:start + 16],
                         context, FleetConfig(steps=args.steps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, default=Path("data/base"))
    parser.add_argument("--identities", type=int, default=16)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--images-per-step", type=int, default=1,
                        help="per-identity batch for both trainers (1: the reference's); the run also "
                        "measures both at all of an identity's images, one draw each (the fleet's images)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    if args.worker:
        return worker_main(args)
    torch.set_num_threads(args.threads)
    p = load_params().finetune
    cfg = FleetConfig(rank=p.rank, alpha=p.lora_alpha, targets=tuple(p.targets), steps=args.steps,
                      lr=p.lr, weight_decay=p.weight_decay, grad_clip=p.grad_clip,
                      images_per_step=args.images_per_step)
    result = {"identities": args.identities, "steps": args.steps, "threads": args.threads,
              "images_per_identity": None, "machine": f"{platform.processor() or platform.machine()}, "
              f"{torch.get_num_threads()} torch threads", "command": " ".join(["python", *sys.argv])}
    result.update(batched_vs_peft(args.base, args.identities, cfg))
    at_all = batched_vs_peft(args.base, args.identities, dataclasses.replace(cfg, images_per_step=0))
    result.update({f"{key}_all_images": value for key, value in at_all.items()})
    result["images_per_identity"] = int(zarr.open_group(args.base / "latents.zarr")["latents"].shape[1])
    result["images_per_step"] = args.images_per_step or result["images_per_identity"]
    result.update(processes_vs_threads(args.base, args.identities, args.steps))
    write_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
