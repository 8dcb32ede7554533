"""measure_inversion's bookkeeping, with the methods and the scoring replaced by stand-ins whose
answers are known: it inverts the held-out identities' own images and paintings, scores each model
against its own identity, and reports the paired difference."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from committed import section
from fakes import Rows

import w2w.evaluate.inversion as inversion
from w2w.judge.api import TRAIT_COLUMNS


@pytest.mark.parametrize("occluded", [False, True])  # a folder of photos; the miniature world
def test_held_out_images_and_paintings_are_inverted_and_scored_against_their_own_identity(monkeypatch,
                                                                                          occluded):
    n, held = 6, np.array([False, True, False, True, True, False])  # held-out rows 1, 3, 4
    images = np.zeros((n, 2, 2, 2, 3), np.uint8)
    images[:, :, 0, 0, 0] = np.arange(n)[:, None] * 10                 # row r's images hold 10 r
    ood = np.zeros((3, 1, 2, 2, 3), np.uint8)
    ood[:, 0, 0, 0, 0] = [11, 31, 41]                                   # paintings of rows 1, 3, 4
    table = pd.DataFrame({"identity_id": np.arange(100, 100 + n), "Eyeglasses": held,
                          **{c: np.zeros(n) for c in TRAIT_COLUMNS}})
    ctx = SimpleNamespace(heldout=held, table=table, images=Rows(images), ood=Rows(ood), image_size=2,
                          world=None, judge=SimpleNamespace(attribute_names=["Eyeglasses"]),
                          adapters=lambda rows: rows[:, None].astype(float) * 10)
    seen = {}

    def invert(method, offset):
        def run(ctx, *args):
            images = args[1] if method == "w2w" else args[0]
            ids = None if method == "w2w" else args[1]
            person = args[-1] if len(args) == 5 else None  # the masks the loss is weighted to
            seen.setdefault(method, []).append((images[:, 0, 0, 0].tolist(), ids))
            masks = None if person is None else person[:, 0, 0].tolist()
            seen.setdefault(f"{method} masks", []).append(masks)
            return images[:, 0, 0, 0][:, None].astype(float) + offset   # (K, 1): the input's code
        return run

    def score(ctx, adapters, renders, truth, traits, p, desc):
        # a stand-in model is the code of the image it came from (10 r, or 10 r + 1 for a painting;
        # + 1000 for the LoRA): similarity 1 when that row r is the identity it is scored against;
        # trait error 0.5 for the LoRA, 0.2 for the rest
        rows = (adapters[:, 0] % 1000) // 10
        sim = (rows == order).astype(float)
        error = np.where(adapters[:, 0] >= 1000, 0.5, 0.2)
        realistic = np.where(adapters[:, 0] % 10 == 1, 0.25, 1.0)  # samples from a painting look painted
        return inversion.Scored(sim, error, truth.mean(1), np.zeros((len(adapters), 2, 2, 2, 3), np.uint8),
                                realistic)

    monkeypatch.setattr(inversion, "w2w_inversion", invert("w2w", 0))
    monkeypatch.setattr(inversion, "single_image_lora", invert("lora", 1000))
    monkeypatch.setattr(inversion, "score_models", score)

    def scored(ctx, name, images, references, truth):  # the input rungs: each input, judged as it is
        seen.setdefault("inputs", []).append((name, images.shape[1], images[:, 0, 0, 0, 0].tolist()))
        return inversion.Rung(name, (images[:, 0, 0, 0, 0] // 10 == order).astype(float), None)
    monkeypatch.setattr(inversion, "scored", scored)
    monkeypatch.setattr(inversion, "identity_references",
                        lambda world, table, r, seed: np.zeros((len(table), r, 2, 2, 3), np.uint8))
    def hide(table, first, render_seed, seed):  # the occluded render: code 10 r + 2, mask 0.5 r
        seen["occluder"] = (table["identity_id"].tolist(), first[:, 0, 0, 0].tolist(), render_seed, seed)
        rows = first[:, 0, 0, 0] // 10
        return first + 2, np.ones((len(first), 2, 2)) * rows[:, None, None] / 2, ["one side"] * len(first)
    monkeypatch.setattr(inversion, "occluded_first_renders", hide)
    order = np.array([4, 1, 3])  # a seeded sample's order, not the table's
    p = section("evaluate_inversion", identities=3, seed=9)
    metrics, grid, rungs = inversion.measure_inversion(ctx, None, order, p, section("finetune"),
                                                       7 if occluded else None)
    inputs = [[40, 10, 30], [41, 11, 31]] + ([[42, 12, 32]] if occluded else [])  # renders, paintings
    ids = [104, 101, 103]
    assert seen["w2w"] == [(codes, None) for codes in inputs]
    assert seen["lora"] == [(codes, ids) for codes in inputs]
    # only the occluded render's loss is weighted to the person it leaves visible, in both methods
    masks = [None, None] + ([[2.0, 0.5, 1.5]] if occluded else [])
    assert seen["w2w masks"] == masks and seen["lora masks"] == masks
    if occluded:
        assert seen["occluder"] == (ids, [40, 10, 30], 7, 9)  # the world's render seed, the stage's seed
        assert metrics["occluder_places"] == {"lower face": 0, "one side": 3, "top of the head": 0}
        assert metrics["w2w"]["occluded_mean"] == pytest.approx(1.0)
        assert metrics["w2w_minus_lora_occluded"]["trait_error"] == pytest.approx(-0.3)
    else:
        assert "occluder" not in seen and "w2w_minus_lora_occluded" not in metrics
    assert metrics["identities"] == 3
    assert metrics["w2w"]["in_distribution_mean"] == pytest.approx(1.0)      # each its own identity
    assert metrics["w2w"]["ood_mean"] == pytest.approx(1.0)
    assert metrics["fleet_model"]["similarity_mean"] == pytest.approx(1.0)   # the held-out rows' own
    assert metrics["w2w"]["in_distribution_attribute_agreement_mean"] == 1.0  # all three wear glasses
    assert metrics["single_image_lora"]["ood_mean"] == pytest.approx(1.0)
    assert metrics["w2w_minus_lora_ood"]["similarity"] == pytest.approx(0.0)
    assert metrics["w2w_minus_lora_ood"]["trait_error"] == pytest.approx(-0.3)  # paired, w2w lower
    assert metrics["w2w_minus_lora_ood"]["trait_error_ci"] == pytest.approx([-0.3, -0.3])
    assert metrics["w2w"]["ood_realistic_mean"] == 0.25
    assert metrics["w2w"]["in_distribution_realistic_mean"] == 1.0
    assert metrics["fleet_model"]["realistic_mean"] == 1.0
    assert metrics["w2w_minus_lora_ood"]["realistic"] == 0.0
    occluded_names = ["the occluded render (part of the person hidden)",
                      "w2w inversion from the occluded render",
                      "single-image LoRA from the occluded render"] if occluded else []
    assert seen["inputs"] == [("one render (the single-image input)", 1, [40, 10, 30]),
                              ("the painting (the out-of-distribution input)", 1, [41, 11, 31])] + (
        [(occluded_names[0], 1, [42, 12, 32])] if occluded else [])
    assert {r.name for r in rungs} == {
        "one render (the single-image input)", "the painting (the out-of-distribution input)",
        "w2w inversion", "single-image LoRA", "w2w inversion from the painting",
        "single-image LoRA from the painting", "fleet model (held-out identity)", *occluded_names}
    assert grid.shape == (3, 10 if occluded else 7, 2, 2, 3)


@pytest.fixture
def invert_batch_seen(monkeypatch) -> dict:
    """invert_batch replaced by a stand-in that records its keyword arguments (zero coefficients)."""
    seen = {}

    def invert_batch(*args, **kwargs):
        seen.update(kwargs)
        return np.zeros((len(args[5]), 2))  # (K images, k)
    monkeypatch.setattr(inversion, "invert_batch", invert_batch)
    return seen


def test_w2w_inversion_draws_the_fleets_timesteps(invert_batch_seen):
    """w2w inversion draws its noise timesteps where the fleet (and so the single-image LoRA) trains."""
    seen = invert_batch_seen
    basis = SimpleNamespace(k=2, to_weights=lambda c: c)
    ctx = SimpleNamespace(pipe=None, layout=None)
    images = np.zeros((1, 2, 2, 3), np.uint8)
    for span in ([400, 1000], [0, 1000]):
        inversion.w2w_inversion(ctx, basis, images, section("evaluate_inversion"),
                                section("finetune", timestep_range=span))
        assert seen["timestep_range"] == tuple(span)
    # and ends as the fleet (and the LoRA) does: its lr schedule and tail average
    inversion.w2w_inversion(ctx, basis, images, section("evaluate_inversion"),
                            section("finetune", lr_schedule="cosine", average_tail=0.5))
    assert (seen["lr_schedule"], seen["average_tail"]) == ("cosine", 0.5)


def test_single_image_lora_trains_the_fleet_recipe_on_one_image_with_plain_independent_draws(monkeypatch):
    # the fleet's images per step, draws, pairing, person weighting and prior do not apply to one
    # photo: the block repeats it draws_per_step times and everything else is the fleet's
    images = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    latents = np.random.default_rng(0).normal(size=(2, 4, 2, 2)).astype(np.float32)
    monkeypatch.setattr(inversion, "encode_images", lambda vae, x: latents[:len(x)])
    monkeypatch.setattr(inversion, "encode_prompts", lambda *args: np.zeros((1, 3, 5), np.float32))
    seen = {}

    def train(unet, scheduler, block, ids, context, cfg, prior=None, masks=None):
        seen.update(block=block, ids=ids, cfg=cfg, prior=prior, masks=masks)
        return {"w": torch.zeros(len(ids), 1)}, torch.zeros(len(ids))
    monkeypatch.setattr(inversion, "train_identities", train)
    ctx = SimpleNamespace(pipe=SimpleNamespace(vae=None, text_encoder=None, tokenizer=None, unet=None),
                          layout=SimpleNamespace(flatten=lambda weights, stacked: weights["w"].numpy()))
    fp = section("finetune", images_per_step=3, draws_per_image=4, draw_pairing="antithetic",
                 background_weight=0.1, prior_weight=1.0, adam_eps=1e-4, lr_schedule="cosine",
                 average_tail=0.5)
    p = section("evaluate_inversion")
    out = inversion.single_image_lora(ctx, images, [7, 9], p, fp)
    cfg = seen["cfg"]
    assert out.shape == (2, 1) and seen["ids"] == [7, 9] and seen["prior"] is None and seen["masks"] is None
    assert (cfg.draws, cfg.pairing, cfg.images_per_step, cfg.prior_weight, cfg.background_weight) == (
        1, "independent", 0, 0.0, 1.0)
    assert (cfg.steps, cfg.lr, cfg.adam_eps, cfg.timestep_range, cfg.lr_schedule, cfg.average_tail) == (
        p.steps, fp.lr, 1e-4, tuple(fp.timestep_range), "cosine", 0.5)  # the rest: the fleet's recipe
    assert seen["block"].shape == (2, p.draws_per_step, 4, 2, 2)
    assert all(torch.equal(seen["block"][k, j], torch.from_numpy(latents[k]))
               for k in range(2) for j in range(p.draws_per_step))
    # given each image's person mask, the LoRA weighs its loss as the fleet's: the scene at
    # fp.background_weight, every draw of an image with that image's mask
    person = np.stack([np.eye(4), np.ones((4, 4))]).astype(np.float32)
    inversion.single_image_lora(ctx, images, [7, 9], p, fp, person)
    assert seen["cfg"].background_weight == 0.1 and seen["masks"].shape == (2, p.draws_per_step, 4, 4)
    assert all(torch.equal(seen["masks"][k, j], torch.from_numpy(person[k]))
               for k in range(2) for j in range(p.draws_per_step))


def test_w2w_inversion_weighs_the_scene_as_the_fleet_given_person_masks(invert_batch_seen):
    seen = invert_batch_seen
    ctx, basis = SimpleNamespace(pipe=None, layout=None), SimpleNamespace(k=2, to_weights=lambda c: c)
    images, fp = np.zeros((2, 4, 4, 3), np.uint8), section("finetune", background_weight=0.1)
    inversion.w2w_inversion(ctx, basis, images, section("evaluate_inversion"), fp)
    assert seen["mask"] is None                                       # the plain loss by default
    person = np.stack([np.zeros((4, 4)), np.ones((4, 4))])
    inversion.w2w_inversion(ctx, basis, images, section("evaluate_inversion"), fp, person)
    assert np.allclose(seen["mask"][0], 0.1) and np.allclose(seen["mask"][1], 1.0)
