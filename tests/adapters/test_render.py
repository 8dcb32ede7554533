"""Many adapter models sampled in one batch equal each model merged and sampled alone."""

import numpy as np
import zarr

from w2w.adapters.layout import AdapterLayout
from w2w.adapters.merge import merged
from w2w.adapters.render import initial_noise, render_models
from w2w.base.pipeline import load_pipeline


def test_batched_models_equal_merged_models(micro_space):
    pipe = load_pipeline(micro_space / "base" / "model")
    weights = zarr.open_array(micro_space / "weights.zarr" / "weights", mode="r")
    layout = AdapterLayout.from_json(weights.attrs["layout"])
    rows = np.asarray(weights[:5]) * 50  # larger adapters, so models differ visibly
    images = render_models(pipe, rows, layout, 27.0, "sks person", 2, seed=3, steps=3, guidance=3.0,
                           batch=4)  # 2 models per call: the last call is a partial one
    assert images.shape == (5, 2, 32, 32, 3) and images.dtype == np.uint8
    noise = initial_noise(pipe, 2, 3)
    for i in (0, 4):
        with merged(pipe.unet, layout.unflatten(rows[i]), 27.0):
            alone = pipe(["sks person"] * 2, latents=noise, num_inference_steps=3, guidance_scale=3.0,
                         output_type="np").images
        alone = (np.clip(alone, 0, 1) * 255).round().astype(np.uint8)
        diff = np.abs(alone.astype(int) - images[i].astype(int))
        assert diff.max() <= 2 and diff.mean() < 0.05, i  # batch-size float rounding, then uint8
    assert not np.array_equal(images[0], images[1])  # each row saw its own model


def test_delayed_injection_switches_models_mid_sampling(micro_space):
    pipe = load_pipeline(micro_space / "base" / "model")
    weights = zarr.open_array(micro_space / "weights.zarr" / "weights", mode="r")
    layout = AdapterLayout.from_json(weights.attrs["layout"])
    original, edited = np.asarray(weights[:2]) * 50, np.asarray(weights[2:4]) * 50

    def render(rows, **delayed):
        return render_models(pipe, rows, layout, 27.0, "sks person", 1, seed=0, steps=4, guidance=3.0,
                             **delayed)

    plain_edit, plain_original = render(edited), render(original)
    assert np.array_equal(render(edited, delayed_from=original, delay=1000), plain_edit)
    assert np.array_equal(render(edited, delayed_from=original, delay=0), plain_original)
    halfway = render(edited, delayed_from=original, delay=500)
    assert not np.array_equal(halfway, plain_edit) and not np.array_equal(halfway, plain_original)


def guided_by_hand(pipe, layout, row, noise, steps: int, guidance: float) -> np.ndarray:
    """(n, S, S, 3) uint8: DDIM sampling whose conditional branch runs the model (the base with `row`
    merged) and whose unconditional branch runs the base alone, written out step by step."""
    import torch

    n = len(noise)
    cond, uncond = pipe.encode_prompt(["sks person"] * n, "cpu", 1, True, [""] * n)
    pipe.scheduler.set_timesteps(steps)
    latents = noise * pipe.scheduler.init_noise_sigma
    with torch.no_grad():
        for t in pipe.scheduler.timesteps:
            x = pipe.scheduler.scale_model_input(latents, t)
            e_uncond = pipe.unet(x, t, encoder_hidden_states=uncond).sample
            with merged(pipe.unet, layout.unflatten(row), 27.0):
                e_cond = pipe.unet(x, t, encoder_hidden_states=cond).sample
            latents = pipe.scheduler.step(e_uncond + guidance * (e_cond - e_uncond), t, latents).prev_sample
        images = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample
    images = (images / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).numpy()
    return (images * 255).round().astype(np.uint8)


def test_unconditional_branch_through_the_base(micro_space):
    pipe = load_pipeline(micro_space / "base" / "model")
    weights = zarr.open_array(micro_space / "weights.zarr" / "weights", mode="r")
    layout = AdapterLayout.from_json(weights.attrs["layout"])
    rows = np.asarray(weights[:3]) * 50

    def render(rows, guidance, base):
        return render_models(pipe, rows, layout, 27.0, "sks person", 2, seed=1, steps=3, guidance=guidance,
                             batch=4, base_unconditional=base)

    usual, from_base = render(rows, 3.0, False), render(rows, 3.0, True)
    assert not np.array_equal(usual, from_base)  # the unconditional branch changed
    for i in (0, 2):  # the first and the last (a partial call) of the batches
        diff = np.abs(guided_by_hand(pipe, layout, rows[i], initial_noise(pipe, 2, 1), 3, 3.0).astype(int)
                      - from_base[i].astype(int))
        assert diff.max() <= 2 and diff.mean() < 0.05, i  # batch-size float rounding, then uint8
    assert np.array_equal(render(rows, 1.0, True), render(rows, 1.0, False))  # no unconditional branch
    zero = np.zeros_like(rows[:2])  # the base itself: both branches are the base either way
    assert np.array_equal(render(zero, 3.0, True), render(zero, 3.0, False))
