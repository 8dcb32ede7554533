"""K identities trained batched equal each identity trained alone with peft's LoRA."""

import copy
import dataclasses

import pytest
import torch
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict

from w2w.base.model import build_unet, training_scheduler
from w2w.fleet.lora import lora_target_names, shared_init
from w2w.fleet.train import FleetConfig, draw_batch, identity_generator, train_identities
from w2w.params import BaseParams

TINY = BaseParams(unet_channels=[16, 32], text_dim=16, latent_channels=4)
CFG = FleetConfig(rank=1, alpha=2.0, steps=5, lr=1e-2, grad_clip=0.05, init_seed=3, seed=7)


def solo_with_peft(unet, latents, identity_id, context, cfg):
    unet = copy.deepcopy(unet)
    names = lora_target_names(unet, cfg.targets)
    init = shared_init([unet.get_submodule(n) for n in names], cfg.rank, cfg.init_seed)
    unet.add_adapter(LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, target_modules=list(cfg.targets)))
    with torch.no_grad():
        for name, (a, _) in zip(names, init, strict=True):
            unet.get_submodule(name).lora_A["default"].weight.copy_(a)
    params = [p for p in unet.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=False)
    scheduler, generator = training_scheduler(), identity_generator(cfg.seed, identity_id)
    for _ in range(cfg.steps):
        x0, noise, t = draw_batch([generator], latents[None], cfg.images_per_step, 1000)
        pred = unet(scheduler.add_noise(x0, noise, t), t,
                    encoder_hidden_states=context.expand(len(x0), *context.shape)).sample
        loss = torch.nn.functional.mse_loss(pred, noise)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
    return get_peft_model_state_dict(unet)


def rel_err(got: dict, want: dict) -> float:
    num = sum((got[key] - want[key]).pow(2).sum() for key in want)
    return float((num / sum(want[key].pow(2).sum() for key in want)).sqrt())


@pytest.mark.parametrize("cfg", [CFG, dataclasses.replace(CFG, images_per_step=2)],
                         ids=["all-images", "2-of-3-images"])
def test_batched_equals_solo_peft(cfg):
    torch.manual_seed(0)
    unet = build_unet(TINY, 8)
    latents = torch.randn(4, 3, 4, 8, 8)
    context = torch.randn(6, 16)
    ids = [11, 2, 40, 5]
    batched, loss = train_identities(copy.deepcopy(unet), training_scheduler(), latents, ids, context, cfg)
    assert loss.shape == (4,)
    for k, identity in enumerate(ids):
        solo = solo_with_peft(unet, latents[k], identity, context, cfg)
        assert set(solo) == set(batched)
        err = rel_err({key: batched[key][k] for key in solo}, solo)
        assert err <= 1e-4, f"identity {identity}: relative error {err:.2e}"
        assert float(sum(solo[key].abs().sum() for key in solo if "lora_B" in key)) > 0  # it trained


def test_identities_do_not_depend_on_their_batch_mates():
    torch.manual_seed(1)
    unet = build_unet(TINY, 8)
    latents, context = torch.randn(3, 2, 4, 8, 8), torch.randn(6, 16)
    scheduler = training_scheduler()
    together, _ = train_identities(copy.deepcopy(unet), scheduler, latents, [1, 2, 3], context, CFG)
    alone, _ = train_identities(copy.deepcopy(unet), scheduler, latents[1:2], [2], context, CFG)
    mate = {key: together[key][1] for key in alone}
    assert rel_err(mate, {key: alone[key][0] for key in alone}) <= 1e-4  # float32 batch-size noise only
