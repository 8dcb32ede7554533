"""Training the miniature UNet on cached latents with precomputed (frozen) text embeddings."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, UNet2DConditionModel
from tqdm import tqdm

from w2w.base.model import training_scheduler
from w2w.base.optim import one_cycle
from w2w.params import BaseParams


def denoising_loss(unet: UNet2DConditionModel, scheduler: DDPMScheduler, latents: torch.Tensor,
                   context: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Epsilon-prediction MSE at uniform random timesteps; latents (B, 4, h, w), context (B, L, D)."""
    noise = torch.randn(latents.shape, generator=generator)
    t = torch.randint(0, scheduler.config.num_train_timesteps, (len(latents),), generator=generator)
    noisy = scheduler.add_noise(latents, noise, t)
    return F.mse_loss(unet(noisy, t, encoder_hidden_states=context).sample, noise)


def pick_prompts(caption_idx: np.ndarray, n_special: int, p: BaseParams, rng: np.random.Generator
                 ) -> np.ndarray:
    """Per sample: the empty prompt (0), the generic one (1), or the identity's caption."""
    u = rng.random(len(caption_idx))
    out = caption_idx + n_special
    out[u < p.generic_caption_fraction + p.empty_caption_fraction] = 1
    out[u < p.empty_caption_fraction] = 0  # for classifier-free guidance
    return out


def train_unet(unet: UNet2DConditionModel, latents: torch.Tensor, caption_idx: np.ndarray,
               prompt_embeddings: torch.Tensor, p: BaseParams,
               log: Callable[[int, dict], None] | None = None) -> UNet2DConditionModel:
    """Train on latents (M, 4, h, w) whose captions are rows `caption_idx` (M,) of
    `prompt_embeddings[2:]` (rows 0/1 are the empty/generic prompts). Returns the EMA weights."""
    scheduler = training_scheduler()
    ema = copy.deepcopy(unet).requires_grad_(False)
    opt = torch.optim.AdamW(unet.parameters(), lr=p.unet_lr, weight_decay=1e-2)
    sched = one_cycle(opt, p.unet_lr, p.unet_steps)
    rng, generator = np.random.default_rng(p.seed), torch.Generator().manual_seed(p.seed)
    unet.train()
    for step in tqdm(range(p.unet_steps), desc="base unet", unit="step", mininterval=2):
        idx = rng.integers(0, len(latents), p.unet_batch_size)
        prompts = pick_prompts(caption_idx[idx], 2, p, rng)
        loss = denoising_loss(unet, scheduler, latents[idx], prompt_embeddings[prompts], generator)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        sched.step()
        decay = min(p.ema_decay, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, w in zip(ema.parameters(), unet.parameters(), strict=True):
                e.lerp_(w, 1 - decay)
        if log is not None and step % 50 == 0:
            log(step, {"unet.loss": loss.item()})
    return ema.eval()


@torch.no_grad()
def heldout_loss(unet: UNet2DConditionModel, latents: torch.Tensor, context: torch.Tensor,
                 seed: int, batch: int = 256) -> float:
    """Mean denoising loss over held-out latents with their captions, fixed noise and timesteps."""
    scheduler, generator = training_scheduler(), torch.Generator().manual_seed(seed)
    losses = [denoising_loss(unet, scheduler, latents[s:s + batch], context[s:s + batch], generator)
              * len(latents[s:s + batch]) for s in range(0, len(latents), batch)]
    return float(torch.stack(losses).sum() / len(latents))
