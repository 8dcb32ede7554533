"""The learning-rate schedule shared by the base model's trainers."""

from __future__ import annotations

import torch
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, OneCycleLR

MIN_CYCLE_STEPS = 40  # OneCycleLR needs >= 2 warm-up steps at pct_start=0.05


def one_cycle(opt: torch.optim.Optimizer, lr: float, steps: int) -> LRScheduler:
    """One cycle with 5% warm-up; runs too short for a cycle (smoke tests) keep a constant rate."""
    if steps < MIN_CYCLE_STEPS:
        return LambdaLR(opt, lambda _: 1.0)
    return OneCycleLR(opt, lr, total_steps=steps, pct_start=0.05)
