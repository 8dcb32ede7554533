"""Training many identities' adapters at once on a frozen base UNet.

Per-identity randomness (noise, timesteps) comes from a generator seeded by (seed, identity id), so
an identity's adapter does not depend on which other identities share its batch. The loss is the
sum over identities of each identity's mean loss, gradients are clipped per identity, and AdamW is
elementwise, so training K identities together equals training each alone.
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, UNet2DConditionModel

from w2w.adapters.lora import batched_lora, lora_target_names, shared_init
from w2w.fleet.config import FleetConfig

T = TypeVar("T", torch.Tensor, np.ndarray)


def identity_generator(seed: int, identity_id: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + identity_id)


def draw_timesteps(m: int, span: tuple[int, int], sampling: str, generator: torch.Generator) -> torch.Tensor:
    """m training timesteps in span = [low, high): iid uniform, or stratified (one from each of m equal
    bins, in random order), which spreads every step's images over the whole range."""
    low, high = span
    if sampling == "uniform":
        return torch.randint(low, high, (m,), generator=generator)
    if sampling == "stratified":
        bins = torch.randperm(m, generator=generator) + torch.rand(m, generator=generator)
        return (low + bins * (high - low) / m).long().clamp(max=high - 1)
    raise ValueError(f"timesteps must be 'uniform' or 'stratified', got {sampling!r}")


def timestep_span(cfg: FleetConfig, scheduler: DDPMScheduler) -> tuple[int, int]:
    """The configured [low, high) of training timesteps, checked against the base's schedule."""
    low, high = cfg.timestep_range
    if not 0 <= low < high <= scheduler.config.num_train_timesteps:
        raise ValueError(f"timestep_range must lie in [0, {scheduler.config.num_train_timesteps}] with "
                         f"low < high, got [{low}, {high}]")
    return low, high


def snr_weights(scheduler: DDPMScheduler, t: torch.Tensor, gamma: float) -> torch.Tensor:
    """min(SNR, gamma) / SNR of each timestep (B,), the min-SNR weighting of epsilon prediction
    (Hang et al., 2023): the nearly clean timesteps, which dominate the loss's variance, count less."""
    abar = scheduler.alphas_cumprod.to(t.device)[t].float()
    snr = abar / (1 - abar)
    return snr.clamp(max=gamma) / snr


PAIRINGS = ("independent", "same_timestep", "antithetic")


def draw_noise(rows: int, shape: tuple[int, ...], span: tuple[int, int], sampling: str, pairing: str,
               generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise (rows, *shape) and timesteps (rows,) for one identity's rows, consecutive rows paired
    unless `pairing` is independent: a pair shares its timestep, and with antithetic its noises
    are e and -e. Then the part of the pair's loss gradient that is linear in the noise cancels, at
    no extra compute (measured on the miniature world: the identity share does not move, README).
    `draw_batch` has checked the pairing and that paired rows are even."""
    if pairing == "independent":
        noise = torch.randn((rows, *shape), generator=generator)
        return noise, draw_timesteps(rows, span, sampling, generator)
    if pairing == "antithetic":
        half = torch.randn((rows // 2, *shape), generator=generator)
        noise = torch.stack([half, -half], 1).flatten(0, 1)  # e0, -e0, e1, -e1, ...
    else:
        noise = torch.randn((rows, *shape), generator=generator)
    return noise, draw_timesteps(rows // 2, span, sampling, generator).repeat_interleave(2)


def draw_batch(generators: list[torch.Generator], latents: torch.Tensor, m: int, span: tuple[int, int],
               sampling: str = "uniform", draws: int = 1, pairing: str = "independent"
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One step's clean latents, noise and timesteps, (K*m*draws, C, h, w) x2 and (K*m*draws,),
    identity-major, and which of its images each row is (K*m*draws,).

    latents (K, n, C, h, w); each identity draws m of its n images (all when m is 0 or n), each
    `draws` times over (consecutive rows), then its noise and timesteps (`draw_noise`), from its
    own generator only."""
    n, shape = latents.shape[1], tuple(latents.shape[2:])
    m = n if m in (0, n) else m
    if pairing not in PAIRINGS:
        raise ValueError(f"pairing must be one of {', '.join(PAIRINGS)}, got {pairing!r}")
    if pairing != "independent" and draws % 2:
        raise ValueError(f"{pairing} pairs need an even number of draws per image, got {draws}")
    x0, noise, t, picks = [], [], [], []
    for i, g in enumerate(generators):
        pick = torch.arange(n) if m == n else torch.randperm(n, generator=g)[:m]
        pick = pick.repeat_interleave(draws)
        whole = m == n and draws == 1  # every image once: a view, no gather
        x0.append(latents[i] if whole else latents[i, pick.to(latents.device)])
        e, ts = draw_noise(m * draws, shape, span, sampling, pairing, g)
        noise.append(e)
        t.append(ts)
        picks.append(pick)
    # draws stay on the CPU generators (same numbers on any device), then move to the latents'
    return (torch.cat(x0), torch.cat(noise).to(latents.device), torch.cat(t).to(latents.device),
            torch.cat(picks).to(latents.device))


def scene_weighted(person: T, background_weight: float) -> T:
    """Loss weights from the share of person (array or tensor, in [0, 1]): 1 where it is all person,
    `background_weight` where it is all scene, linear between."""
    return background_weight + (1 - background_weight) * person


def person_weights(masks: torch.Tensor, latent_hw: tuple[int, int], background_weight: float) -> torch.Tensor:
    """Per-latent-pixel loss weights (K, n, 1, h, w) from person masks (K, n, S, S) in [0, 1]:
    `scene_weighted` by the share of each latent pixel's patch that is person."""
    k, n = masks.shape[:2]
    share = F.adaptive_avg_pool2d(masks.float().flatten(0, 1)[:, None], latent_hw)  # (K*n, 1, h, w)
    return scene_weighted(share, background_weight).unflatten(0, (k, n))


def per_sample_mse(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None
                   ) -> torch.Tensor:
    """(B,) each sample's squared error (B, C, h, w): its mean over the latent pixels, or with
    `weights` (B, 1, h, w) its weighted mean, so that a mostly-scene image weighs as much as any."""
    squared = F.mse_loss(pred, target, reduction="none")                          # (B, C, h, w)
    if weights is None:
        return squared.flatten(1).mean(1)
    return (squared * weights).flatten(1).sum(1) / weights.expand_as(squared).flatten(1).sum(1)


def draw_prior(generators: list[torch.Generator], pool: torch.Tensor, m: int, span: tuple[int, int],
               sampling: str = "uniform") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """m class-prior latents per identity from the shared pool (P, C, h, w), with noise and timesteps."""
    x0, noise, t = [], [], []
    for g in generators:
        x0.append(pool[torch.randint(0, len(pool), (m,), generator=g)])
        noise.append(torch.randn((m, *pool.shape[1:]), generator=g))
        t.append(draw_timesteps(m, span, sampling, g))
    return torch.cat(x0), torch.cat(noise).to(pool.device), torch.cat(t).to(pool.device)


def autocast(device: torch.device, mode: str) -> torch.autocast:
    """bfloat16 autocast for mode "bf16", else a disabled context (float32)."""
    if mode not in ("", "bf16"):
        raise ValueError(f"autocast must be '' or 'bf16', got {mode!r}")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=mode == "bf16")


def step_lr(lr: float, schedule: str, step: int, steps: int) -> float:
    """The learning rate of step `step` of `steps`: constant, or a cosine from lr down to 0."""
    if schedule == "constant":
        return lr
    if schedule == "cosine":
        return lr * 0.5 * (1 + math.cos(math.pi * step / steps))
    raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {schedule!r}")


def averaged_steps(steps: int, fraction: float) -> int:
    """How many final iterates make the adapter (at least 1: the last)."""
    return max(1, round(steps * fraction))


def clip_per_identity(params: list[torch.nn.Parameter], max_norm: float) -> torch.Tensor:
    """Scale each identity's gradient (dim 0 of every param) to norm <= max_norm, as
    torch.nn.utils.clip_grad_norm_ does for one model; returns the pre-clip norms (K,)."""
    sq = sum(p.grad.flatten(1).pow(2).sum(1) for p in params)
    norms = sq.sqrt()
    coef = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for p in params:
        p.grad.mul_(coef.view(-1, *([1] * (p.grad.dim() - 1))))
    return norms


def train_identities(unet: UNet2DConditionModel, scheduler: DDPMScheduler, latents: torch.Tensor,
                     identity_ids: list[int], context: torch.Tensor, cfg: FleetConfig,
                     prior: tuple[torch.Tensor, torch.Tensor] | None = None,
                     masks: torch.Tensor | None = None) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Train adapters for K identities; latents (K, n, C, h, w), context (L, D) for the prompt.

    Each step an identity's rows are `cfg.images_per_step` of its n images (all by default), each
    noised `cfg.draws` times. With `cfg.prior_weight` > 0, `prior` = (class latents (P, C, h, w),
    class-prompt context (L, D)): each step every identity also denoises as many class latents as
    it has rows, weighted by prior_weight.
    With `cfg.background_weight` < 1, `masks` (K, n, S, S) says where the person is in each image:
    each image's loss is then a weighted mean over its latent pixels (`person_weights`), so the
    scene counts background_weight as much as the person. The class images are not weighted.

    Returns peft-named weights stacked over identities, e.g.
    `down_blocks.0.attentions.0....attn1.to_q.lora_A.weight` -> (K, r, in), and the final loss (K,).
    """
    identities = latents.shape[0]  # K
    if cfg.draws < 1:
        raise ValueError(f"draws must be at least 1, got {cfg.draws}")
    n = latents.shape[1] if cfg.images_per_step in (0, latents.shape[1]) else cfg.images_per_step
    n *= cfg.draws  # rows per identity and step (below): each of its images noised `draws` times
    unet.requires_grad_(False)
    names = lora_target_names(unet, cfg.targets)
    layers = [unet.get_submodule(name) for name in names]
    init = shared_init(layers, cfg.rank, cfg.init_seed)
    generators = [identity_generator(cfg.seed, i) for i in identity_ids]
    use_prior = cfg.prior_weight > 0
    if use_prior and prior is None:
        raise ValueError("prior_weight > 0 needs the class-prior latents and context")
    weighted = cfg.background_weight < 1
    if weighted and (masks is None or masks.shape[:2] != latents.shape[:2]):
        raise ValueError(f"background_weight < 1 needs a person mask per image {tuple(latents.shape[:2])}, "
                         f"got {None if masks is None else tuple(masks.shape)}")
    pixel_weights = (person_weights(masks, latents.shape[-2:], cfg.background_weight).to(latents.device)
                     if weighted else None)                     # (K, images, 1, h, w), by image
    # rows are identity-major blocks: an identity's n rows, then (with the prior) n class images
    parts = 2 if use_prior else 1
    contexts = [context, prior[1]] if use_prior else [context]
    ctx = torch.cat([c.expand(n, *c.shape) for c in contexts]).repeat(identities, 1, 1)  # (K*parts*n, L, D)
    with batched_lora(unet, names, init, identities, cfg.alpha) as wrappers:
        params = [p for w in wrappers for p in (w.lora_a, w.lora_b)]
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, eps=cfg.adam_eps,
                                foreach=False)
        for w in wrappers:
            w.blocks = True
        tail, span = averaged_steps(cfg.steps, cfg.average_tail), timestep_span(cfg, scheduler)
        mean = [torch.zeros_like(p) for p in params] if tail > 1 else []  # none: the last iterate
        for step in range(cfg.steps):
            for group in opt.param_groups:
                group["lr"] = step_lr(cfg.lr, cfg.lr_schedule, step, cfg.steps)
            x0, noise, t, picks = draw_batch(generators, latents, cfg.images_per_step, span,
                                             cfg.timesteps, cfg.draws, cfg.pairing)  # (K*n, C, h, w)
            w = pixel_weights[torch.arange(identities, device=picks.device).repeat_interleave(n), picks
                              ] if weighted else None  # (K*n, 1, h, w)
            if use_prior:
                drawn = draw_prior(generators, prior[0], n, span, cfg.timesteps)
                blocks = (identities, n)
                x0, noise, t = (torch.stack([a.unflatten(0, blocks), b.unflatten(0, blocks)], 1).flatten(0, 2)
                                for a, b in zip((x0, noise, t), drawn, strict=True))
                if weighted:  # the class images count every pixel
                    w = torch.stack([w.unflatten(0, blocks), torch.ones_like(w).unflatten(0, blocks)], 1
                                    ).flatten(0, 2)
            with autocast(latents.device, cfg.autocast):
                pred = unet(scheduler.add_noise(x0, noise, t), t, encoder_hidden_states=ctx).sample
            per_sample = per_sample_mse(pred.float(), noise, w)                      # (B,)
            if cfg.snr_gamma > 0:
                per_sample = per_sample * snr_weights(scheduler, t, cfg.snr_gamma)
            means = per_sample.view(identities, parts, n).mean(2)             # (K, parts)
            loss = means[:, 0] + (cfg.prior_weight * means[:, 1] if use_prior else 0)  # (K,)
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            clip_per_identity(params, cfg.grad_clip)
            opt.step()
            if mean and step >= cfg.steps - tail:  # running mean of the last `tail` iterates
                for m, p in zip(mean, params, strict=True):
                    m.add_(p.detach(), alpha=1 / tail)
        if mean:  # the iterates wander around the fit by the optimiser's noise: average it out
            with torch.no_grad():
                for m, p in zip(mean, params, strict=True):
                    p.copy_(m)
        weights = {}
        for name, w in zip(names, wrappers, strict=True):
            weights[f"{name}.lora_A.weight"] = w.lora_a.detach().clone()
            weights[f"{name}.lora_B.weight"] = w.lora_b.detach().clone()
    return weights, loss.detach()
