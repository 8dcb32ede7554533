"""Delayed injection switches from the original to the edited weights at the chosen timestep."""

import numpy as np
import zarr

from w2w.adapters.layout import AdapterLayout
from w2w.adapters.merge import merged
from w2w.base.pipeline import generate, load_pipeline
from w2w.space.delayed import generate_delayed, model_samples


def test_switch_point_selects_original_edited_or_a_mix(micro_space):
    pipe = load_pipeline(micro_space / "base" / "model")
    array = zarr.open_array(micro_space / "weights.zarr" / "weights", mode="r")
    layout = AdapterLayout.from_json(array.attrs["layout"])
    original, edited = np.asarray(array[0]), np.asarray(array[1]) * 3.0
    before = {k: v.clone() for k, v in pipe.unet.state_dict().items()}

    def plain(vector):
        with merged(pipe.unet, layout.unflatten(vector), 27.0):
            return generate(pipe, "sks person", 2, 0, 4, 3.0)

    def delayed(switch):
        return generate_delayed(pipe, layout, 27.0, original, edited, switch, "sks person", 2, 0, 4, 3.0)

    assert np.array_equal(delayed(-1), plain(original))    # never switches
    assert np.array_equal(delayed(1000), plain(edited))    # edited from the start
    mixed = delayed(500)
    assert not np.array_equal(mixed, plain(original)) and not np.array_equal(mixed, plain(edited))
    assert all(np.array_equal(before[k], v) for k, v in pipe.unet.state_dict().items())  # restored


def test_previews_guided_away_from_the_base_keep_the_switch(micro_space):
    pipe = load_pipeline(micro_space / "base" / "model")
    array = zarr.open_array(micro_space / "weights.zarr" / "weights", mode="r")
    layout = AdapterLayout.from_json(array.attrs["layout"])
    original, edited = np.asarray(array[0]) * 50, np.asarray(array[1]) * 50

    def sample(vector, start=None, delay=None, base=True):
        return model_samples(pipe, layout, 27.0, vector, "sks person", 2, 0, 4, 3.0, start, delay, base)

    away = sample(edited)
    assert away.shape == (2, 32, 32, 3)
    assert np.array_equal(sample(edited, original, 1000), away)            # edited from the start
    assert np.array_equal(sample(edited, original, -1), sample(original))  # never switches
    assert not np.array_equal(sample(edited, original, 500), away)
    assert not np.array_equal(away, sample(edited, base=False))  # the usual guidance differs
