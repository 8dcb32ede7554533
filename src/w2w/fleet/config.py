"""The fleet's configuration as training and the shard files see it: kept apart from the trainer and
the orchestrator so that readers of shards and stacked weights import neither."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from w2w.adapters.files import config_metadata, lora_config
from w2w.params import FinetuneParams


@dataclass(frozen=True)
class FleetConfig:
    rank: int = 1
    alpha: float = 1.0
    targets: tuple[str, ...] = ("to_q", "to_v")
    steps: int = 60
    lr: float = 3e-3
    weight_decay: float = 1e-2
    adam_eps: float = 1e-8  # torch's default
    grad_clip: float = 1.0
    init_seed: int = 0
    seed: int = 0
    images_per_step: int = 0  # images of each identity per step, drawn without replacement; 0: all
    draws: int = 1  # noise and timestep draws of each of those images per step
    pairing: str = "independent"  # same_timestep | antithetic: an image's draws in pairs (fleet.train)
    prior_weight: float = 0.0  # weight of the class-prior loss (DreamBooth prior preservation)
    autocast: str = ""  # "bf16": bfloat16 autocast of the forward pass (GPU runs); "": float32
    lr_schedule: str = "constant"  # "cosine": lr decays to 0 over the steps
    average_tail: float = 0.0  # the adapter is the mean of the last fraction of iterates; 0: the last
    background_weight: float = 1.0  # loss weight of the scene against the person's 1; 1: the plain loss
    timesteps: str = "uniform"  # "stratified": each step's images spread over the noise range
    timestep_range: tuple[int, int] = (0, 1000)  # training timesteps drawn from [low, high)
    snr_gamma: float = 0.0  # min-SNR loss weight min(SNR, gamma) / SNR per image; 0: every timestep alike


def fleet_config(p: FinetuneParams) -> FleetConfig:
    return FleetConfig(rank=p.rank, alpha=p.lora_alpha, targets=tuple(p.targets), steps=p.steps, lr=p.lr,
                       weight_decay=p.weight_decay, adam_eps=p.adam_eps, grad_clip=p.grad_clip,
                       init_seed=p.init_seed, seed=p.seed, images_per_step=p.images_per_step,
                       draws=p.draws_per_image, pairing=p.draw_pairing, prior_weight=p.prior_weight,
                       autocast=p.autocast,
                       lr_schedule=p.lr_schedule, average_tail=p.average_tail,
                       background_weight=p.background_weight, timesteps=p.timesteps,
                       timestep_range=tuple(p.timestep_range), snr_gamma=p.snr_gamma)


def shard_path(folder: Path, index: int) -> Path:
    return folder / f"shard-{index:05d}.safetensors"


def lora_config_dict(p: FinetuneParams) -> dict:
    return config_metadata(lora_config(p.rank, p.lora_alpha, tuple(p.targets)))
