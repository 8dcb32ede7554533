"""The reference way to train one identity: peft's LoRA on the UNet, one identity at a time.

Same init, data, noise and timestep draws as `train_identities`, so the two must agree; used by the
equivalence test and by the throughput benchmark as the baseline.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, UNet2DConditionModel
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict
from torch.optim.swa_utils import AveragedModel

from w2w.adapters.lora import lora_target_names, shared_init
from w2w.fleet.config import FleetConfig
from w2w.fleet.train import (
    autocast,
    averaged_steps,
    draw_batch,
    draw_prior,
    identity_generator,
    snr_weights,
    timestep_span,
)


def add_shared_adapter(unet: UNet2DConditionModel, cfg: FleetConfig) -> list[torch.nn.Parameter]:
    """Attach peft's LoRA with the fleet's shared A init; returns the trainable parameters."""
    names = lora_target_names(unet, cfg.targets)
    init = shared_init([unet.get_submodule(n) for n in names], cfg.rank, cfg.init_seed)
    unet.add_adapter(LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, target_modules=list(cfg.targets)))
    with torch.no_grad():
        for name, (a, _) in zip(names, init, strict=True):
            unet.get_submodule(name).lora_A["default"].weight.copy_(a)
    return [p for p in unet.parameters() if p.requires_grad]


def weighted_mse(pred: torch.Tensor, target: torch.Tensor, t: torch.Tensor, scheduler: DDPMScheduler,
                 snr_gamma: float) -> torch.Tensor:
    """The mean squared error of a batch, each image's weighted by min-SNR when snr_gamma > 0."""
    if snr_gamma == 0:
        return F.mse_loss(pred.float(), target)
    per_image = F.mse_loss(pred.float(), target, reduction="none").flatten(1).mean(1)
    return (per_image * snr_weights(scheduler, t, snr_gamma)).mean()


def train_one_with_peft(unet: UNet2DConditionModel, scheduler: DDPMScheduler, latents: torch.Tensor,
                        identity_id: int, context: torch.Tensor, cfg: FleetConfig,
                        prior: tuple[torch.Tensor, torch.Tensor] | None = None
                        ) -> dict[str, torch.Tensor]:
    """One identity's adapter (peft-named state dict); latents (n, C, h, w); `unet` is not modified."""
    unet = copy.deepcopy(unet)
    params = add_shared_adapter(unet, cfg)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, eps=cfg.adam_eps, foreach=False)
    decay = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps) if cfg.lr_schedule == "cosine"
             else None)
    tail = averaged_steps(cfg.steps, cfg.average_tail)
    # torch's equal-weight running mean of the iterates it is given; a copy of the UNet, so only when
    # averaging (this is the throughput benchmarks' baseline)
    averaged = AveragedModel(unet) if tail > 1 else None
    generator, span = identity_generator(cfg.seed, identity_id), timestep_span(cfg, scheduler)
    for step in range(cfg.steps):
        x0, noise, t, _ = draw_batch([generator], latents[None], cfg.images_per_step, span, cfg.timesteps,
                                     cfg.draws, cfg.pairing)
        with autocast(latents.device, cfg.autocast):
            pred = unet(scheduler.add_noise(x0, noise, t), t,
                        encoder_hidden_states=context.expand(len(x0), *context.shape)).sample
        loss = weighted_mse(pred, noise, t, scheduler, cfg.snr_gamma)
        if cfg.prior_weight > 0:
            px0, pnoise, pt = draw_prior([generator], prior[0], len(x0), span, cfg.timesteps)
            with autocast(latents.device, cfg.autocast):
                ppred = unet(scheduler.add_noise(px0, pnoise, pt), pt,
                             encoder_hidden_states=prior[1].expand(len(px0), *prior[1].shape)).sample
            loss = loss + cfg.prior_weight * weighted_mse(ppred, pnoise, pt, scheduler, cfg.snr_gamma)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        if decay is not None:
            decay.step()
        if averaged is not None and step >= cfg.steps - tail:
            averaged.update_parameters(unet)
    return get_peft_model_state_dict(unet if averaged is None else averaged.module)
