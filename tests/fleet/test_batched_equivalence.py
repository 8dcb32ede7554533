"""K identities trained batched equal each identity trained alone with peft's LoRA."""

import copy
import dataclasses
import math

import pytest
import torch
from committed import section

from w2w.base.model import build_unet, training_scheduler
from w2w.fleet.config import FleetConfig
from w2w.fleet.peft_reference import train_one_with_peft
from w2w.fleet.train import (
    averaged_steps,
    draw_batch,
    draw_timesteps,
    per_sample_mse,
    person_weights,
    snr_weights,
    step_lr,
    train_identities,
)

# 8 heads, the base these tolerances were set on: the heads touch only the frozen base, the same in
# both trainers, but at 2 heads Adam turns float noise in near-zero gradients into whole steps for
# one identity (relative error 1.8e-3 against 3e-5 or less; the others stay under 1e-6)
TINY = section("base", unet_channels=[16, 32], text_dim=16, latent_channels=4, attention_heads=8)
CFG = FleetConfig(rank=1, alpha=2.0, steps=5, lr=1e-2, grad_clip=0.05, init_seed=3, seed=7)


def rel_err(got: dict, want: dict) -> float:
    num = sum((got[key] - want[key]).pow(2).sum() for key in want)
    return float((num / sum(want[key].pow(2).sum() for key in want)).sqrt())


@pytest.mark.parametrize("cfg", [CFG, dataclasses.replace(CFG, images_per_step=2),
                                 dataclasses.replace(CFG, prior_weight=0.5, timesteps="stratified"),
                                 dataclasses.replace(CFG, lr_schedule="cosine", average_tail=0.6),
                                 dataclasses.replace(CFG, prior_weight=0.5, timestep_range=(300, 1000),
                                                     snr_gamma=5.0),
                                 dataclasses.replace(CFG, images_per_step=2, draws=2, prior_weight=0.5),
                                 dataclasses.replace(CFG, draws=2, pairing="antithetic", prior_weight=0.5),
                                 dataclasses.replace(CFG, adam_eps=1e-3)],
                         ids=["all-images", "2-of-3-images", "prior-preservation-stratified",
                              "cosine-averaged", "prior-range-min-snr", "2-of-3-images-2-draws-prior",
                              "antithetic-pairs-prior", "adam-eps"])
def test_batched_equals_solo_peft(cfg):
    torch.manual_seed(0)
    unet = build_unet(TINY, 8)
    latents = torch.randn(4, 3, 4, 8, 8)
    context = torch.randn(6, 16)
    prior = (torch.randn(5, 4, 8, 8), torch.randn(6, 16))  # class latents, class-prompt context
    ids = [11, 2, 40, 5]
    scheduler = training_scheduler()
    batched, loss = train_identities(copy.deepcopy(unet), scheduler, latents, ids, context, cfg, prior)
    assert loss.shape == (4,)
    for k, identity in enumerate(ids):
        solo = train_one_with_peft(unet, scheduler, latents[k], identity, context, cfg, prior)
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


def test_bf16_autocast_takes_effect_and_stays_close():
    torch.manual_seed(2)
    unet = build_unet(TINY, 8)
    latents, context = torch.randn(2, 2, 4, 8, 8), torch.randn(6, 16)
    scheduler = training_scheduler()
    full, _ = train_identities(copy.deepcopy(unet), scheduler, latents, [0, 1], context, CFG)
    half, _ = train_identities(copy.deepcopy(unet), scheduler, latents, [0, 1], context,
                               dataclasses.replace(CFG, autocast="bf16"))
    err = rel_err(half, full)
    assert 0 < err < 0.1  # bfloat16 rounding changes the result, a little
    with pytest.raises(ValueError, match="autocast"):
        train_identities(unet, scheduler, latents, [0, 1], context, dataclasses.replace(CFG, autocast="fp8"))


def test_cosine_and_averaging_change_the_adapter():
    torch.manual_seed(3)
    unet = build_unet(TINY, 8)
    latents, context = torch.randn(2, 2, 4, 8, 8), torch.randn(6, 16)
    scheduler = training_scheduler()
    plain, _ = train_identities(copy.deepcopy(unet), scheduler, latents, [0, 1], context, CFG)
    for change in ({"lr_schedule": "cosine"}, {"average_tail": 0.6}, {"timesteps": "stratified"},
                   {"timestep_range": (500, 1000)}, {"snr_gamma": 5.0}):
        other, _ = train_identities(copy.deepcopy(unet), scheduler, latents, [0, 1], context,
                                    dataclasses.replace(CFG, **change))
        assert rel_err(other, plain) > 1e-3, change
    with pytest.raises(ValueError, match="lr_schedule"):
        train_identities(unet, scheduler, latents, [0, 1], context,
                         dataclasses.replace(CFG, lr_schedule="step"))
    with pytest.raises(ValueError, match="timestep_range"):
        train_identities(unet, scheduler, latents, [0, 1], context,
                         dataclasses.replace(CFG, timestep_range=(0, 1001)))


def test_draws_noise_each_image_again_as_a_repeated_image_would_be():
    # draws=2 is the block with every image twice, number for number: the studies' earlier
    # repeated-render variants and the draws_per_image param train the same adapters
    torch.manual_seed(5)
    unet = build_unet(TINY, 8)
    latents, context = torch.randn(2, 3, 4, 8, 8), torch.randn(6, 16)
    masks = (torch.rand(2, 3, 32, 32) > 0.5).float()
    scheduler = training_scheduler()
    weighted = dataclasses.replace(CFG, background_weight=0.1)
    twice, loss = train_identities(copy.deepcopy(unet), scheduler, latents, [4, 9], context,
                                   dataclasses.replace(weighted, draws=2), masks=masks)
    repeated, same = train_identities(copy.deepcopy(unet), scheduler, latents.repeat_interleave(2, 1), [4, 9],
                                      context, weighted, masks=masks.repeat_interleave(2, 1))
    assert all(torch.equal(twice[key], repeated[key]) for key in repeated) and torch.equal(loss, same)
    once, _ = train_identities(copy.deepcopy(unet), scheduler, latents, [4, 9], context, weighted,
                               masks=masks)
    assert rel_err(twice, once) > 1e-3  # the second draws took effect


def test_adam_eps_shrinks_the_steps_of_small_gradients():
    # eps far above every gradient makes AdamW a momentum SGD at lr / eps: far smaller steps here
    torch.manual_seed(6)
    unet = build_unet(TINY, 8)
    latents, context = torch.randn(2, 3, 4, 8, 8), torch.randn(6, 16)
    trained = {eps: train_identities(copy.deepcopy(unet), training_scheduler(), latents, [4, 9], context,
                                     dataclasses.replace(CFG, adam_eps=eps))[0] for eps in (1e-8, 1.0)}
    moved = {eps: sum(float(w[key].abs().sum()) for key in w if "lora_B" in key)
             for eps, w in trained.items()}
    assert 0 < moved[1.0] < 0.1 * moved[1e-8]


def test_draw_batch_repeats_each_picked_image_in_consecutive_rows():
    # the rows of one step, and which image each is: the person weights are looked up by `picks`
    latents = torch.randn(2, 5, 4, 8, 8)
    gens = [torch.Generator().manual_seed(s) for s in (1, 2)]
    x0, noise, t, picks = draw_batch(gens, latents, 3, (400, 1000), "uniform", draws=2)
    assert x0.shape == noise.shape == (2 * 3 * 2, 4, 8, 8) and t.shape == picks.shape == (12,)
    for i, seed in enumerate((1, 2)):
        g = torch.Generator().manual_seed(seed)
        want = torch.randperm(5, generator=g)[:3].repeat_interleave(2)  # the same draws, in order
        assert torch.equal(picks[6 * i:6 * i + 6], want)
        assert torch.equal(x0[6 * i:6 * i + 6], latents[i, want])
        assert torch.equal(noise[6 * i:6 * i + 6], torch.randn((6, 4, 8, 8), generator=g))
    assert not torch.equal(noise[0], noise[1])  # the two draws of one image differ
    assert t.min() >= 400 and t.max() < 1000


@pytest.mark.parametrize("pairing", ["same_timestep", "antithetic"])
def test_paired_draws_share_a_timestep_and_antithetic_noises_cancel(pairing):
    latents = torch.randn(2, 3, 4, 8, 8)
    gens = [torch.Generator().manual_seed(s) for s in (1, 2)]
    x0, noise, t, picks = draw_batch(gens, latents, 0, (400, 1000), "uniform", draws=4, pairing=pairing)
    assert x0.shape == noise.shape == (2 * 3 * 4, 4, 8, 8)
    assert torch.equal(picks, torch.arange(3).repeat_interleave(4).repeat(2))  # images as before
    pairs_t, pairs_noise = t.view(-1, 2), noise.view(-1, 2, 4, 8, 8)  # consecutive rows: one image's pair
    assert (pairs_t[:, 0] == pairs_t[:, 1]).all()
    assert len(set(pairs_t[:, 0].tolist())) > 6  # the pairs' timesteps differ (12 pairs)
    summed = (pairs_noise[:, 0] + pairs_noise[:, 1]).abs().amax((1, 2, 3))
    assert (summed == 0).all() if pairing == "antithetic" else (summed > 1).all()
    independent = draw_batch([torch.Generator().manual_seed(1)], latents[:1], 0, (400, 1000), draws=4)[2]
    assert not (independent.view(-1, 2)[:, 0] == independent.view(-1, 2)[:, 1]).all()
    with pytest.raises(ValueError, match="even number of draws"):
        draw_batch(gens, latents, 0, (400, 1000), draws=3, pairing=pairing)
    with pytest.raises(ValueError, match="pairing must be one of"):
        draw_batch(gens, latents, 0, (400, 1000), draws=2, pairing="mirrored")
    with pytest.raises(ValueError, match="pairing must be one of"):  # an unknown pairing is named first
        draw_batch(gens, latents, 0, (400, 1000), draws=3, pairing="mirrored")


def test_stratified_timesteps_take_one_from_each_bin():
    g = torch.Generator().manual_seed(0)
    for m in (1, 4, 8):  # bins of whole timesteps
        draws = torch.stack([draw_timesteps(m, (0, 1000), "stratified", g) for _ in range(200)])  # (200, m)
        assert draws.min() >= 0 and draws.max() <= 999
        bins = (draws * m) // 1000
        assert (bins.sort(1).values == torch.arange(m)).all()  # every bin once, every step
        assert len(set(draws[:, 0].tolist())) > 100  # random within the bins, and in random order
    assert len(set(bins[:, 0].tolist())) == 8
    uniform = torch.stack([draw_timesteps(8, (0, 1000), "uniform", g) for _ in range(200)])
    assert not ((uniform * 8 // 1000).sort(1).values == torch.arange(8)).all(1).all()
    with pytest.raises(ValueError, match="timesteps"):
        draw_timesteps(4, (0, 1000), "lognormal", g)


def test_timesteps_are_drawn_from_the_range():
    g = torch.Generator().manual_seed(1)
    for sampling in ("uniform", "stratified"):
        draws = torch.stack([draw_timesteps(8, (600, 1000), sampling, g) for _ in range(200)])
        assert draws.min() >= 600 and draws.max() <= 999
        assert draws.min() < 620 and draws.max() > 980  # the whole range, not a corner of it
    stratified = torch.stack([draw_timesteps(4, (600, 1000), "stratified", g) for _ in range(100)])
    assert (((stratified - 600) * 4 // 400).sort(1).values == torch.arange(4)).all()
    # the full range draws what the plain draw does, number for number (the committed fleet's bytes)
    a, b = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(draw_timesteps(8, (0, 1000), "uniform", a), torch.randint(0, 1000, (8,), generator=b))


def test_min_snr_weights_count_the_nearly_clean_timesteps_less():
    scheduler = training_scheduler()
    t = torch.tensor([0, 100, 400, 700, 999])
    abar = scheduler.alphas_cumprod[t]
    snr = abar / (1 - abar)
    w = snr_weights(scheduler, t, 5.0)
    assert torch.allclose(w, torch.minimum(snr, torch.tensor(5.0)) / snr)
    assert (w <= 1).all() and w[-1] == 1.0 and w[0] < 0.01  # noisy timesteps whole, clean ones tiny
    assert (w.diff() >= 0).all()  # less weight the cleaner the image


def test_step_lr_and_averaged_steps():
    assert step_lr(0.1, "constant", 7, 10) == 0.1
    assert step_lr(0.1, "cosine", 0, 10) == pytest.approx(0.1)
    assert step_lr(0.1, "cosine", 5, 10) == pytest.approx(0.05)
    assert step_lr(0.1, "cosine", 9, 10) == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 0.9)))
    assert averaged_steps(70, 0.0) == 1 and averaged_steps(70, 0.5) == 35 and averaged_steps(3, 0.1) == 1


def test_person_weights_pool_the_masks_to_the_latent_grid():
    masks = torch.zeros(1, 2, 8, 8)
    masks[0, 0] = 1.0
    masks[0, 1, :4, :2] = 1.0  # the top-left 4x2 pixels: two latent pixels all person
    w = person_weights(masks, (4, 4), 0.1)
    assert w.shape == (1, 2, 1, 4, 4)
    assert torch.allclose(w[0, 0], torch.ones(1, 4, 4))
    assert w[0, 1, 0, 0, 0] == pytest.approx(1.0) and w[0, 1, 0, 2, 2] == pytest.approx(0.1)
    assert w[0, 1, 0, 1, 0] == pytest.approx(1.0) and w[0, 1, 0, 0, 1] == pytest.approx(0.1)


def test_per_sample_mse_is_a_weighted_mean_over_each_samples_pixels():
    pred, target = torch.zeros(2, 3, 2, 2), torch.zeros(2, 3, 2, 2)
    target[0, :, 0, 0] = 2.0  # sample 0: squared error 4 on one of its 4 pixels
    target[1] = 1.0           # sample 1: 1 everywhere
    assert per_sample_mse(pred, target).tolist() == pytest.approx([1.0, 1.0])
    w = torch.full((2, 1, 2, 2), 0.1)
    w[:, 0, 0, 0] = 1.0       # the pixel with the error counts 10x
    assert per_sample_mse(pred, target, w).tolist() == pytest.approx([4.0 / 1.3, 1.0])
    assert per_sample_mse(pred, target, torch.ones(2, 1, 2, 2)).tolist() == pytest.approx([1.0, 1.0])


def test_a_loss_weighted_to_the_person():
    torch.manual_seed(4)
    unet = build_unet(TINY, 8)
    latents, context = torch.randn(3, 2, 4, 8, 8), torch.randn(6, 16)
    masks = (torch.rand(3, 2, 32, 32) > 0.5).float()
    scheduler = training_scheduler()
    weighted = dataclasses.replace(CFG, background_weight=0.1)
    plain, _ = train_identities(copy.deepcopy(unet), scheduler, latents, [1, 2, 3], context, CFG)
    together, _ = train_identities(copy.deepcopy(unet), scheduler, latents, [1, 2, 3], context, weighted,
                                   masks=masks)
    alone, _ = train_identities(copy.deepcopy(unet), scheduler, latents[1:2], [2], context, weighted,
                                masks=masks[1:2])
    assert rel_err({key: together[key][1] for key in alone}, {key: alone[key][0] for key in alone}) <= 1e-4
    assert rel_err(together, plain) > 1e-3  # the weights took effect
    everywhere, _ = train_identities(copy.deepcopy(unet), scheduler, latents, [1, 2, 3], context, weighted,
                                     masks=torch.ones(3, 2, 32, 32))
    assert rel_err(everywhere, plain) <= 1e-4  # all person: the plain loss
    some = dataclasses.replace(CFG, background_weight=0.1, images_per_step=1, prior_weight=0.5)
    prior = (torch.randn(5, 4, 8, 8), torch.randn(6, 16))
    drawn, _ = train_identities(copy.deepcopy(unet), scheduler, latents, [1, 2, 3], context, some, prior,
                                masks=torch.ones(3, 2, 32, 32))
    unweighted, _ = train_identities(copy.deepcopy(unet), scheduler, latents, [1, 2, 3], context,
                                     dataclasses.replace(some, background_weight=1.0), prior)
    assert rel_err(drawn, unweighted) <= 1e-4  # with a subset of images and the prior too
    with pytest.raises(ValueError, match="person mask"):
        train_identities(unet, scheduler, latents, [1, 2, 3], context, weighted)
