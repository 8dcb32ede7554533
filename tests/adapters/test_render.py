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
